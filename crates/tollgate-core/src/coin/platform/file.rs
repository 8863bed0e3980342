//! One platform configuration file, in any of its three forms: `Version: 2` mapping, the legacy
//! bare list of configurations, or a bare file name (an alias for another file).

use super::PlatformConfig;
use crate::coin::read::{FileReader, field};
use crate::diagnostic::Location;
use crate::yaml::{Node, Value};

pub(super) enum PlatformFile {
    /// `ogl-runtime.yaml` holds just `qt5.yaml`.
    Alias {
        target: String,
        location: Location,
    },
    Configs(ConfigsFile),
}

#[derive(Default)]
pub(super) struct ConfigsFile {
    pub module_only: bool,
    pub includes: Vec<Include>,
    pub configurations: Vec<ConfigFields>,
    pub overrides: Vec<ConfigFields>,
}

/// `Include: [cmake_platforms.yaml]`, or only some of its configurations:
/// `Include: [cmake_platforms.yaml: [ubuntu-22.04, rhel-8.10]]` (qt5's `precheck.yaml`).
pub(super) struct Include {
    pub file: String,
    /// The ids to take; all of them when `None`.
    pub only: Option<Vec<String>>,
    pub location: Location,
}

/// The fields of a configuration mapping as written. A definition needs `Template` and
/// `Compiler`; an override carries `Id` and the fields it replaces.
#[derive(Clone, Default)]
pub(super) struct ConfigFields {
    pub location: Option<Location>,
    pub id: Option<String>,
    pub template: Option<String>,
    pub compiler: Option<String>,
    pub target_os: Option<String>,
    pub target_arch: Option<String>,
    pub target_compiler: Option<String>,
    pub features: Option<Vec<String>>,
    pub configure_arguments: Option<String>,
    pub environment: Option<Vec<(String, String)>>,
    pub environment_script: Option<Vec<String>>,
    pub platform_dependency: Option<Vec<String>>,
}

const FILE_KEYS: [&str; 5] = ["Version", "Include", "Configurations", "Overrides", "Module only"];
const CONFIG_KEYS: [&str; 12] = [
    "Id",
    "Template",
    "Compiler",
    "Target os",
    "Target arch",
    "Target compiler",
    "Features",
    "Configure arguments",
    "Environment variables",
    "Environment script",
    "Platform dependency",
    // Historic (qmake era); read and ignored.
    "QmakeArguments",
];

pub(super) fn read_file(reader: &mut FileReader<'_>, root: &Node) -> Option<PlatformFile> {
    match &root.value {
        Value::Scalar(_) if !root.is_null() => {
            let target = reader.text(root, "an alias platform configuration file")?;
            Some(PlatformFile::Alias {
                target: target.trim().to_owned(),
                location: reader.at(root),
            })
        }
        Value::Scalar(_) => Some(PlatformFile::Configs(ConfigsFile::default())),
        Value::Seq(items) => {
            // The form before `Version: 2` (qt5 commit 439a1eb2, 2019).
            let configurations =
                items.iter().filter_map(|item| read_config(reader, item)).collect();
            Some(PlatformFile::Configs(ConfigsFile { configurations, ..ConfigsFile::default() }))
        }
        Value::Map(entries) => {
            reader.unknown_keys(entries, &FILE_KEYS, "a platform configuration file");
            let mut file = ConfigsFile::default();
            if let Some(version) = field(entries, "Version")
                && version.as_u64() != Some(2)
            {
                reader.error(version, "unsupported platform configuration `Version`; expected 2");
            }
            if let Some(node) = field(entries, "Module only") {
                file.module_only = reader.boolean(node, "`Module only`").unwrap_or(false);
            }
            if let Some(node) = field(entries, "Include") {
                for item in reader.list(node, "`Include`").unwrap_or_default() {
                    file.includes.extend(read_include(reader, item));
                }
            }
            for (key, target) in
                [("Configurations", &mut file.configurations), ("Overrides", &mut file.overrides)]
            {
                if let Some(node) = field(entries, key) {
                    let items = reader.list(node, &format!("`{key}`")).unwrap_or_default();
                    target.extend(items.into_iter().filter_map(|item| read_config(reader, item)));
                }
            }
            Some(PlatformFile::Configs(file))
        }
    }
}

fn read_include(reader: &mut FileReader<'_>, item: &Node) -> Vec<Include> {
    let what = "each item of `Include` (a file name, or `file.yaml: [ids]`)";
    match &item.value {
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(file, ids)| {
                let file = reader.text(file, what)?;
                let only = reader.texts(ids, &format!("the configurations taken from `{file}`"))?;
                Some(Include { file, only: Some(only), location: reader.at(item) })
            })
            .collect(),
        _ => reader
            .text(item, what)
            .map(|file| Include { file, only: None, location: reader.at(item) })
            .into_iter()
            .collect(),
    }
}

fn read_config(reader: &mut FileReader<'_>, node: &Node) -> Option<ConfigFields> {
    let entries = reader.map(node, "a platform configuration")?;
    reader.unknown_keys(entries, &CONFIG_KEYS, "a platform configuration");
    let mut fields = ConfigFields { location: Some(reader.at(node)), ..ConfigFields::default() };
    for (key, value) in entries {
        let Some(name) = key.as_str() else { continue };
        let what = format!("`{name}`");
        match name {
            "Id" => fields.id = reader.text(value, &what),
            "Template" => fields.template = reader.text(value, &what),
            "Compiler" => fields.compiler = reader.text(value, &what),
            "Target os" => fields.target_os = reader.text(value, &what),
            "Target arch" => fields.target_arch = reader.text(value, &what),
            "Target compiler" => fields.target_compiler = reader.text(value, &what),
            "Features" => fields.features = reader.texts(value, &what),
            "Configure arguments" => fields.configure_arguments = reader.text(value, &what),
            "Environment script" => fields.environment_script = reader.texts(value, &what),
            "Platform dependency" => fields.platform_dependency = reader.texts(value, &what),
            "Environment variables" => {
                let mut pairs = Vec::new();
                for item in reader.list(value, &what).unwrap_or_default() {
                    let Some(text) = reader.text(item, "each environment variable") else {
                        continue;
                    };
                    // Split at the first `=`; the value may be empty or start with a space.
                    match text.split_once('=') {
                        Some((name, value)) if !name.trim().is_empty() => {
                            pairs.push((name.trim().to_owned(), value.to_owned()));
                        }
                        _ => reader.error(
                            item,
                            format!("environment variable `{text}` is not `NAME=value`"),
                        ),
                    }
                }
                fields.environment = Some(pairs);
            }
            _ => {}
        }
    }
    Some(fields)
}

impl ConfigFields {
    /// Replaces the fields this override sets.
    pub fn apply(&self, config: &mut PlatformConfig) {
        let text = |field: &Option<String>, target: &mut String| {
            if let Some(value) = field {
                target.clone_from(value);
            }
        };
        text(&self.template, &mut config.template);
        text(&self.compiler, &mut config.compiler);
        let optional = |field: &Option<String>, target: &mut Option<String>| {
            if field.is_some() {
                target.clone_from(field);
            }
        };
        optional(&self.target_os, &mut config.target_os);
        optional(&self.target_arch, &mut config.target_arch);
        optional(&self.target_compiler, &mut config.target_compiler);
        optional(&self.configure_arguments, &mut config.configure_arguments);
        if let Some(features) = &self.features {
            config.features.clone_from(features);
        }
        if let Some(environment) = &self.environment {
            config.environment.clone_from(environment);
        }
        if let Some(script) = &self.environment_script {
            config.environment_script.clone_from(script);
        }
        if let Some(dependency) = &self.platform_dependency {
            config.platform_dependency.clone_from(dependency);
        }
        if let Some(location) = &self.location {
            config.location = location.clone();
        }
    }

    /// A configuration from a definition; `None` (with an error) when required fields are
    /// missing. Old files have no `Id`; one is made from the fields that tell rows apart.
    pub fn define(
        &self,
        reader: &mut FileReader<'_>,
        node_location: &Location,
    ) -> Option<PlatformConfig> {
        let missing: Vec<&str> = [("Template", &self.template), ("Compiler", &self.compiler)]
            .into_iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name)
            .collect();
        if !missing.is_empty() {
            let message = format!("platform configuration lacks `{}`", missing.join("` and `"));
            reader.diagnostics.error(node_location.clone(), message);
            return None;
        }
        let template = self.template.clone().unwrap_or_default();
        let compiler = self.compiler.clone().unwrap_or_default();
        let id = self.id.clone().unwrap_or_else(|| {
            [Some(&template), Some(&compiler), self.target_os.as_ref(), self.target_arch.as_ref()]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join("_")
        });
        let mut config = PlatformConfig {
            id,
            id_generated: self.id.is_none(),
            template,
            compiler,
            target_os: None,
            target_arch: None,
            target_compiler: None,
            features: Vec::new(),
            configure_arguments: None,
            environment: Vec::new(),
            environment_script: Vec::new(),
            platform_dependency: Vec::new(),
            location: node_location.clone(),
        };
        self.apply(&mut config);
        Some(config)
    }
}
