use std::collections::BTreeSet;

use super::PlatformConfig;
use super::file::{Include, PlatformFile, read_file};
use crate::coin::load::{Loaded, file_start, input_fact, load_yaml};
use crate::coin::read::FileReader;
use crate::diagnostic::{Diagnostics, FileRef, Location};
use crate::source::{Pin, RepoPath, Source, SourceError};

/// A module's platform configurations.
#[derive(Clone, Debug, Default)]
pub struct PlatformSet {
    pub configurations: Vec<PlatformConfig>,
    /// The module's file had `Module only: True`, so `default.yaml` was not added.
    pub module_only: bool,
}

/// Reads the configurations of `module` (a short name such as `qtsvg`) from `dir` in the
/// product at `pin`.
pub fn read_platform_configs(
    source: &dyn Source,
    pin: &Pin,
    dir: &RepoPath,
    module: &str,
    diagnostics: &mut Diagnostics,
) -> Result<PlatformSet, SourceError> {
    let mut resolver = Resolver { source, pin, dir, diagnostics, included: BTreeSet::new() };
    let module_file = format!("{module}.yaml");
    let found = resolver.read(&module_file, &mut Vec::new(), None)?;
    let (mut configurations, module_only) = found.unwrap_or_default();
    if !module_only && module_file != "default.yaml" {
        let defaults = resolver.read("default.yaml", &mut Vec::new(), None)?;
        configurations.extend(defaults.unwrap_or_default().0);
    }
    let configurations = check_set(configurations, resolver.diagnostics);
    if configurations.is_empty() {
        let file = FileRef::new(pin.clone(), dir.join(&module_file).unwrap_or_else(|| dir.clone()));
        resolver.diagnostics.warning(
            file_start(&file),
            format!("no platform configurations for `{module}`: neither `{module_file}` nor `default.yaml` gives any"),
        );
    }
    Ok(PlatformSet { configurations, module_only })
}

struct Resolver<'a> {
    source: &'a dyn Source,
    pin: &'a Pin,
    dir: &'a RepoPath,
    diagnostics: &'a mut Diagnostics,
    /// Files already included into this set, with the ids taken from them: a file included
    /// twice the same way adds its rows once.
    included: BTreeSet<(Option<RepoPath>, Option<Vec<String>>)>,
}

impl Resolver<'_> {
    /// The configurations of one file and its `Module only` flag; `None` when it does not
    /// exist. `chain` holds the files being read, to catch include cycles; `from` is where the
    /// file was named.
    fn read(
        &mut self,
        name: &str,
        chain: &mut Vec<RepoPath>,
        from: Option<&Location>,
    ) -> Result<Option<(Vec<PlatformConfig>, bool)>, SourceError> {
        let Some(path) = self.dir.join(name) else {
            if let Some(from) = from {
                self.diagnostics.error(
                    from.clone(),
                    format!("`{name}` is not a file name in the platform configuration folder"),
                );
            }
            return Ok(Some(Default::default()));
        };
        if chain.contains(&path) {
            let cycle: Vec<&str> = chain.iter().chain([&path]).map(RepoPath::as_str).collect();
            let location = from.cloned().unwrap_or_else(|| file_start(&self.file(&path)));
            self.diagnostics.error(location, format!("include cycle: {}", cycle.join(" -> ")));
            return Ok(Some(Default::default()));
        }
        let file = self.file(&path);
        let node = match load_yaml(self.source, &file, self.diagnostics)
            .or_else(|e| input_fact(e).map(|_| Loaded::Missing))?
        {
            Loaded::Node(node) => node,
            Loaded::Broken => return Ok(Some(Default::default())),
            Loaded::Missing => {
                if let Some(from) = from {
                    self.diagnostics.error(
                        from.clone(),
                        format!(
                            "included platform configuration file `{path}` does not exist in {}",
                            self.pin
                        ),
                    );
                }
                return Ok(None);
            }
        };
        let mut reader = FileReader { file: &file, diagnostics: self.diagnostics };
        let Some(parsed) = read_file(&mut reader, &node) else {
            return Ok(Some(Default::default()));
        };
        chain.push(path);
        let result = match parsed {
            PlatformFile::Alias { target, location } => {
                self.read(&target, chain, Some(&location))?
            }
            PlatformFile::Configs(parsed) => {
                let mut configurations = Vec::new();
                for include in &parsed.includes {
                    let key = (self.dir.join(&include.file), include.only.clone());
                    if !self.included.insert(key) {
                        continue;
                    }
                    let location = Some(&include.location);
                    if let Some((included, _)) = self.read(&include.file, chain, location)? {
                        configurations.extend(self.select(included, include));
                    }
                }
                let mut reader = FileReader { file: &file, diagnostics: self.diagnostics };
                for fields in &parsed.configurations {
                    let location = fields.location.clone().unwrap_or_else(|| file_start(&file));
                    configurations.extend(fields.define(&mut reader, &location));
                }
                for patch in &parsed.overrides {
                    let location = patch.location.clone().unwrap_or_else(|| file_start(&file));
                    let Some(id) = &patch.id else {
                        reader.diagnostics.error(
                            location,
                            "an override needs the `Id` of the configuration it changes",
                        );
                        continue;
                    };
                    match configurations.iter_mut().find(|c| &c.id == id) {
                        Some(config) => patch.apply(config),
                        None => reader.diagnostics.warning(
                            location,
                            format!(
                                "override of `{id}`, which no included file defines; it is ignored"
                            ),
                        ),
                    }
                }
                Some((configurations, parsed.module_only))
            }
        };
        chain.pop();
        Ok(result)
    }

    /// The configurations an include takes, in the order of the included file. A taken
    /// configuration brings its platform dependencies along (qt5's `precheck.yaml` takes
    /// `ios-universal` without `macos-universal-on-x86_64`, whose build it needs).
    fn select(&mut self, included: Vec<PlatformConfig>, include: &Include) -> Vec<PlatformConfig> {
        let Some(only) = &include.only else { return included };
        let defines = |id: &str| included.iter().find(|c| c.id == id);
        let mut wanted: Vec<&str> = Vec::new();
        for id in only {
            match defines(id) {
                Some(_) => wanted.push(id),
                None => self.diagnostics.error(
                    include.location.clone(),
                    format!("`{}` defines no configuration `{id}` to include", include.file),
                ),
            }
        }
        // Listed ids first, so that only the unlisted dependencies are reported.
        let mut next = 0;
        while let Some(id) = wanted.get(next).copied() {
            next += 1;
            let dependencies = defines(id).map(|c| c.platform_dependency.as_slice());
            for dependency in dependencies.unwrap_or_default() {
                if !wanted.contains(&dependency.as_str()) && defines(dependency).is_some() {
                    self.diagnostics.warning(
                        include.location.clone(),
                        format!("`{id}` depends on `{dependency}`, which is not listed; it is included too"),
                    );
                    wanted.push(dependency);
                }
            }
        }
        let wanted: BTreeSet<String> = wanted.into_iter().map(str::to_owned).collect();
        included.into_iter().filter(|c| wanted.contains(&c.id)).collect()
    }

    fn file(&self, path: &RepoPath) -> FileRef {
        FileRef::new(self.pin.clone(), path.clone())
    }
}

/// Ids are unique, and every `Platform dependency` names a configuration of the set. A
/// written duplicate is reported and left out, so that no two work items share an id. A
/// generated id that is taken gets a number: rows without `Id` may differ only in features.
fn check_set(
    configurations: Vec<PlatformConfig>,
    diagnostics: &mut Diagnostics,
) -> Vec<PlatformConfig> {
    let mut unique: Vec<PlatformConfig> = Vec::with_capacity(configurations.len());
    for mut config in configurations {
        let taken = |id: &str, unique: &[PlatformConfig]| unique.iter().any(|c| c.id == id);
        if config.id_generated && taken(&config.id, &unique) {
            let base = config.id.clone();
            let free = (2..).map(|n| format!("{base}-{n}")).find(|id| !taken(id, &unique));
            config.id = free.expect("an unbounded range has a free number");
        }
        match unique.iter().find(|first| first.id == config.id) {
            Some(first) => diagnostics.error(
                config.location.clone(),
                format!(
                    "duplicate platform configuration `{}`; it is also defined at {}",
                    config.id, first.location
                ),
            ),
            None => unique.push(config),
        }
    }
    let ids: BTreeSet<&str> = unique.iter().map(|c| c.id.as_str()).collect();
    for config in &unique {
        for dependency in &config.platform_dependency {
            if !ids.contains(dependency.as_str()) {
                diagnostics.error(
                    config.location.clone(),
                    format!("`{}` has unknown platform dependency `{dependency}`", config.id),
                );
            }
        }
    }
    unique
}
