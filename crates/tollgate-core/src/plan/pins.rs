//! The modules of an integration and the revision of each: the project under test at its own
//! revision, and its dependencies, transitively, at their pins.
//!
//! When two modules pin the same dependency differently, the pin closest to the project under
//! test wins (Coin's "active SHA1"), and the disagreement is reported.

use std::collections::{BTreeMap, VecDeque};

use crate::coin::dependencies::{Dependency, read_dependencies};
use crate::coin::gitmodules::submodules;
use crate::coin::load::input_fact;
use crate::diagnostic::{Diagnostics, Location};
use crate::source::{Pin, ProjectName, RepoPath, Revision, Source, SourceError};

/// A module of the integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    pub pin: Pin,
    pub required: bool,
    /// Direct dependencies that are part of the integration.
    pub dependencies: Vec<ProjectName>,
}

pub(crate) struct Pins {
    /// Dependencies before their dependents; the project under test last.
    pub modules: Vec<Module>,
    /// The product named by the project's dependency files, if any.
    pub product: Option<Pin>,
    /// The project's own submodules at their gitlinks. A product under test (qt/qt5) includes
    /// its modules' files (`{{qt/qtbase}}/…`) at the revisions it pins them to.
    pub submodules: Vec<Pin>,
}

impl Pins {
    /// The revision of every project an include may name.
    pub fn revisions(&self, extra: Option<&Pin>) -> BTreeMap<ProjectName, Revision> {
        let mut revisions: BTreeMap<ProjectName, Revision> = BTreeMap::new();
        for pin in self.submodules.iter().chain(&self.product).chain(extra) {
            revisions.insert(pin.project.clone(), pin.revision.clone());
        }
        for module in &self.modules {
            revisions.insert(module.pin.project.clone(), module.pin.revision.clone());
        }
        revisions
    }

    pub fn module(&self, project: &ProjectName) -> Option<&Module> {
        self.modules.iter().find(|m| &m.pin.project == project)
    }
}

pub(crate) fn resolve_pins(
    source: &dyn Source,
    root: &Pin,
    diagnostics: &mut Diagnostics,
) -> Result<Pins, SourceError> {
    let mut found: BTreeMap<ProjectName, Module> = BTreeMap::new();
    let mut queue = VecDeque::from([(root.clone(), true)]);
    let mut product: Option<(Pin, String)> = None;
    found.insert(
        root.project.clone(),
        Module { pin: root.clone(), required: true, dependencies: Vec::new() },
    );
    while let Some((pin, is_root)) = queue.pop_front() {
        let declared = read_dependencies(source, &pin, diagnostics)?;
        if is_root && let Some(dependency) = &declared.product {
            let reference = dependency.reference.clone().unwrap_or_default();
            match source.resolve(&dependency.project, &reference) {
                Ok(revision) => {
                    product = Some((Pin::new(dependency.project.clone(), revision), reference))
                }
                Err(error) => {
                    let fact = input_fact(error)?;
                    diagnostics.error(
                        dependency.location.clone(),
                        format!("product `{}`: {fact}", dependency.project),
                    );
                }
            }
        }
        let mut direct = Vec::new();
        for dependency in &declared.modules {
            let Some(revision) = pin_of(source, dependency, product.as_ref(), diagnostics)? else {
                continue;
            };
            direct.push(dependency.project.clone());
            match found.get(&dependency.project) {
                Some(existing) if existing.pin.revision != revision => diagnostics.warning(
                    dependency.location.clone(),
                    format!(
                        "{} pins `{}` at {}, but the integration uses {}",
                        pin,
                        dependency.project,
                        revision.short(),
                        existing.pin.revision.short()
                    ),
                ),
                Some(_) => {}
                None => {
                    let pin = Pin::new(dependency.project.clone(), revision);
                    let module = Module {
                        pin: pin.clone(),
                        required: dependency.required,
                        dependencies: Vec::new(),
                    };
                    found.insert(dependency.project.clone(), module);
                    queue.push_back((pin, false));
                }
            }
        }
        if let Some(module) = found.get_mut(&pin.project) {
            module.dependencies = direct;
        }
    }
    let modules = topological(&found, &root.project, diagnostics);
    let submodules = submodule_pins(source, root)?;
    Ok(Pins { modules, product: product.map(|(pin, _)| pin), submodules })
}

/// Every submodule of `root` that the sources know, at its gitlink. Without a gitlink (a plain
/// folder has none) the submodule is read as the sources have it (`HEAD`).
fn submodule_pins(source: &dyn Source, root: &Pin) -> Result<Vec<Pin>, SourceError> {
    let gitmodules = RepoPath::new(".gitmodules").expect("constant path");
    let Some(bytes) = source.read(root, &gitmodules)? else { return Ok(Vec::new()) };
    let mut pins = Vec::new();
    for (path, url) in submodules(&String::from_utf8_lossy(&bytes)) {
        let (Some(project), Some(path)) = (root.project.join_relative(&url), RepoPath::new(&path))
        else {
            continue;
        };
        let revision = match source.submodule_pin(root, &path)? {
            Some(revision) => Ok(revision),
            None => source.resolve(&project, "HEAD"),
        };
        match revision {
            Ok(revision) => pins.push(Pin::new(project, revision)),
            // A submodule the sources do not have is only missed if an include names it, and
            // that include says so.
            Err(error) => drop(input_fact(error)?),
        }
    }
    Ok(pins)
}

/// The revision a dependency is pinned at, or `None` (reported) when it cannot be had.
fn pin_of(
    source: &dyn Source,
    dependency: &Dependency,
    product: Option<&(Pin, String)>,
    diagnostics: &mut Diagnostics,
) -> Result<Option<Revision>, SourceError> {
    let resolved = match (&dependency.reference, product) {
        (Some(reference), _) => source.resolve(&dependency.project, reference),
        (None, Some((product, branch))) => {
            match submodule_revision(source, product, &dependency.project)? {
                Some(revision) => Ok(revision),
                // A product without gitlinks (a plain folder): the module's same branch.
                None => source.resolve(&dependency.project, branch),
            }
        }
        // Reported when the file was read.
        (None, None) => return Ok(None),
    };
    match resolved {
        Ok(revision) => Ok(Some(revision)),
        Err(error) => {
            let fact = input_fact(error)?;
            let location: Location = dependency.location.clone();
            if dependency.required {
                diagnostics.error(
                    location,
                    format!("required dependency `{}`: {fact}", dependency.project),
                );
            } else {
                diagnostics.warning(
                    location,
                    format!("optional dependency `{}` is skipped: {fact}", dependency.project),
                );
            }
            Ok(None)
        }
    }
}

/// The commit the product's submodule for `project` is pinned at.
fn submodule_revision(
    source: &dyn Source,
    product: &Pin,
    project: &ProjectName,
) -> Result<Option<Revision>, SourceError> {
    let gitmodules = RepoPath::new(".gitmodules").expect("constant path");
    let Some(bytes) = source.read(product, &gitmodules)? else { return Ok(None) };
    let text = String::from_utf8_lossy(&bytes);
    for (path, url) in submodules(&text) {
        if product.project.join_relative(&url).as_ref() == Some(project)
            && let Some(path) = RepoPath::new(&path)
        {
            return source.submodule_pin(product, &path);
        }
    }
    Ok(None)
}

/// Orders modules so that each comes after its dependencies. A cycle is reported and broken.
fn topological(
    found: &BTreeMap<ProjectName, Module>,
    root: &ProjectName,
    diagnostics: &mut Diagnostics,
) -> Vec<Module> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        project: &ProjectName,
        found: &BTreeMap<ProjectName, Module>,
        marks: &mut BTreeMap<ProjectName, Mark>,
        order: &mut Vec<Module>,
        cycles: &mut Vec<String>,
    ) {
        match marks.get(project) {
            Some(Mark::Done) => return,
            Some(Mark::Visiting) => {
                cycles.push(project.to_string());
                return;
            }
            None => {}
        }
        marks.insert(project.clone(), Mark::Visiting);
        let Some(module) = found.get(project) else { return };
        for dependency in &module.dependencies {
            visit(dependency, found, marks, order, cycles);
        }
        marks.insert(project.clone(), Mark::Done);
        order.push(module.clone());
    }
    let mut marks = BTreeMap::new();
    let mut order = Vec::new();
    let mut cycles = Vec::new();
    visit(root, found, &mut marks, &mut order, &mut cycles);
    if let (Some(project), Some(root_module)) = (cycles.first(), found.get(root)) {
        let location = crate::coin::load::file_start(&crate::diagnostic::FileRef::new(
            root_module.pin.clone(),
            RepoPath::new("dependencies.yaml").expect("constant path"),
        ));
        diagnostics.error(location, format!("dependency cycle through `{project}`"));
    }
    order
}
