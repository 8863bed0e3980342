//! Planning: from a module at a revision to the work items of an integration, each with its
//! instructions expanded for its platform configuration and its build key.
//!
//! Phases, in order: pins (which modules, at which revisions) → module files read and includes
//! resolved → platform configurations → properties → work items per configuration → build keys.

pub mod build_key;
mod expand;
mod pins;
mod work_item;

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use build_key::{BuildKey, KeyInputs, build_key};
pub use expand::{expand, leaf_count};
pub use pins::Module;
pub use work_item::{MachineSize, WorkItem, WorkItemId, WorkKind};

use crate::coin::condition::{Decision, decide};
use crate::coin::include::Includes;
use crate::coin::instruction::Instruction;
use crate::coin::load::{Loaded, file_start, input_fact, load_yaml};
use crate::coin::module_config::{ModuleConfig, read_module_config};
use crate::coin::platform::{PlatformConfig, read_platform_configs};
use crate::coin::properties::Properties;
use crate::coin::read::FileReader;
use crate::diagnostic::{Diagnostic, Diagnostics, FileRef};
use crate::source::{Pin, ProjectName, RepoPath, Source, SourceError, TreeId};

/// Cores for a work item when neither the module nor the configuration says.
pub const DEFAULT_CORES: u32 = 4;

/// The revision salt when none is configured. Changing it invalidates every stored result.
pub const DEFAULT_SALT: &str = "tollgate-1";

pub const MODULE_CONFIG: &str = "coin/module_config.yaml";
pub const PLATFORM_CONFIGS: &str = "coin/platform_configs";

#[derive(Clone, Debug)]
pub struct PlanRequest {
    /// The module under test at the revision to integrate.
    pub project: Pin,
    /// The product whose `coin/platform_configs/` holds the configurations; the project's own
    /// folder when `None`.
    pub platforms: Option<Pin>,
    /// The global revision salt that goes into every build key.
    pub salt: String,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub project: Pin,
    pub platforms: Pin,
    /// Every module of the integration, dependencies first.
    pub modules: Vec<Module>,
    pub configurations: Vec<ConfigurationPlan>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Clone, Debug)]
pub struct ConfigurationPlan {
    pub config: PlatformConfig,
    pub properties: Properties,
    /// The module's `accept_configuration` holds for this configuration.
    pub accepted: bool,
    /// Builds of dependency modules first, then the module's own work items.
    pub work_items: Vec<WorkItem>,
}

impl Plan {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn work_items(&self) -> impl Iterator<Item = &WorkItem> {
        self.configurations.iter().flat_map(|c| &c.work_items)
    }

    pub fn work_item(&self, id: &WorkItemId) -> Option<&WorkItem> {
        self.work_items().find(|item| &item.id == id)
    }
}

/// A module with its instructions read and includes resolved.
struct ModuleInput {
    pin: Pin,
    tree: TreeId,
    config: ModuleConfig,
    /// Every module it depends on, transitively, dependencies first.
    closure: Vec<ProjectName>,
}

/// Plans an integration. Bad input becomes diagnostics in the plan; an `Err` is a failure of
/// the source (a disk, a git process) and says nothing about the change.
pub fn plan(source: &dyn Source, request: &PlanRequest) -> Result<Plan, SourceError> {
    let mut diagnostics = Diagnostics::default();
    let root = &request.project;
    let pins = pins::resolve_pins(source, root, &mut diagnostics)?;
    let platforms = request.platforms.clone().unwrap_or_else(|| root.clone());
    let revisions = pins.revisions(Some(&platforms));
    let mut includes = Includes::new(source, &revisions);

    let mut modules: BTreeMap<ProjectName, ModuleInput> = BTreeMap::new();
    for module in &pins.modules {
        let Some(config) = load_module(source, module, root, &mut includes, &mut diagnostics)?
        else {
            continue;
        };
        let tree = match source.tree_id(&module.pin) {
            Ok(tree) => tree,
            Err(error) => {
                let fact = input_fact(error)?;
                diagnostics.error(file_start(&module_file(&module.pin)), fact);
                continue;
            }
        };
        let closure = closure(&pins, &module.pin.project);
        modules.insert(
            module.pin.project.clone(),
            ModuleInput { pin: module.pin.clone(), tree, config, closure },
        );
    }

    let dir = RepoPath::new(PLATFORM_CONFIGS).expect("constant path");
    let set = read_platform_configs(
        source,
        &platforms,
        &dir,
        root.project.short_name(),
        &mut diagnostics,
    )?;
    let properties = properties_of(&set.configurations);

    let mut configurations = Vec::with_capacity(set.configurations.len());
    if let Some(module) = modules.get(&root.project) {
        for (config, properties) in set.configurations.into_iter().zip(properties) {
            let accepted = accepts(&module.config, &config, &properties, &mut diagnostics);
            let mut work_items = Vec::new();
            if accepted {
                for dependency in &module.closure {
                    if let Some(dependency) = modules.get(dependency) {
                        work_items.extend(dependency_build(
                            dependency,
                            &config,
                            &properties,
                            &mut diagnostics,
                        ));
                    }
                }
                work_items.extend(own_items(module, &config, &properties));
            }
            configurations.push(ConfigurationPlan { config, properties, accepted, work_items });
        }
    }
    link(&mut configurations, &modules, &root.project, &mut diagnostics);
    assign_keys(&mut configurations, &request.salt, &mut diagnostics);

    Ok(Plan {
        project: root.clone(),
        platforms,
        modules: pins.modules,
        configurations,
        diagnostics: diagnostics.into_sorted(),
    })
}

fn module_file(pin: &Pin) -> FileRef {
    FileRef::new(pin.clone(), RepoPath::new(MODULE_CONFIG).expect("constant path"))
}

/// Reads a module's `coin/module_config.yaml` and resolves its includes.
fn load_module(
    source: &dyn Source,
    module: &Module,
    root: &Pin,
    includes: &mut Includes<'_>,
    diagnostics: &mut Diagnostics,
) -> Result<Option<ModuleConfig>, SourceError> {
    let file = module_file(&module.pin);
    let node = match load_yaml(source, &file, diagnostics) {
        Ok(Loaded::Node(node)) => node,
        Ok(Loaded::Broken) => return Ok(None),
        Ok(Loaded::Missing) => {
            let message = format!("{} has no `{MODULE_CONFIG}`", module.pin);
            match module.pin == *root || module.required {
                true => diagnostics.error(file_start(&file), message),
                false => {
                    diagnostics.warning(file_start(&file), format!("{message}; it is not built"))
                }
            }
            return Ok(None);
        }
        Err(error) => {
            let fact = input_fact(error)?;
            diagnostics.error(file_start(&file), fact);
            return Ok(None);
        }
    };
    let mut config = read_module_config(&mut FileReader { file: &file, diagnostics }, &node);
    for (_, list) in &mut config.instructions {
        let written = std::mem::take(list);
        *list = includes.resolve(written, &mut vec![file.clone()], diagnostics)?;
    }
    Ok(Some(config))
}

/// Every module `project` depends on, transitively, in build order.
fn closure(pins: &pins::Pins, project: &ProjectName) -> Vec<ProjectName> {
    let mut wanted = BTreeSet::new();
    let mut stack = vec![project.clone()];
    while let Some(next) = stack.pop() {
        for dependency in pins.module(&next).map(|m| m.dependencies.as_slice()).unwrap_or_default()
        {
            if dependency != project && wanted.insert(dependency.clone()) {
                stack.push(dependency.clone());
            }
        }
    }
    pins.modules.iter().map(|m| &m.pin.project).filter(|p| wanted.contains(*p)).cloned().collect()
}

/// Properties of each configuration, with its first platform dependency's.
fn properties_of(configurations: &[PlatformConfig]) -> Vec<Properties> {
    let plain: HashMap<&str, Properties> =
        configurations.iter().map(|c| (c.id.as_str(), Properties::of(c, None))).collect();
    configurations
        .iter()
        .map(|config| {
            let dependency =
                config.platform_dependency.first().and_then(|id| plain.get(id.as_str()));
            Properties::of(config, dependency.cloned())
        })
        .collect()
}

fn accepts(
    module: &ModuleConfig,
    config: &PlatformConfig,
    properties: &Properties,
    diagnostics: &mut Diagnostics,
) -> bool {
    match module.accept.as_ref().map(|c| decide(c, properties)) {
        None | Some(Decision::Known(true)) => true,
        Some(Decision::Known(false)) => false,
        Some(Decision::Residual(condition)) => {
            diagnostics.warning(
                condition.location,
                format!(
                    "`accept_configuration` depends on the environment; `{}` is taken as accepted",
                    config.id
                ),
            );
            true
        }
    }
}

/// The instructions of `kind`, when the module has a non-empty list for it.
fn instructions<'a>(config: &'a ModuleConfig, kind: &str) -> Option<&'a [Instruction]> {
    config
        .instructions
        .iter()
        .find(|(k, list)| k == kind && !list.is_empty())
        .map(|(_, list)| list.as_slice())
}

fn machine(module: &ModuleConfig, kind: &WorkKind, config: &PlatformConfig) -> MachineSize {
    let mut cores = module.cores(kind.as_str()).unwrap_or(DEFAULT_CORES);
    // A configuration may ask for a bigger machine; it never gets a smaller one than the
    // module asks for.
    for (feature, size) in [("VMSize8", 8), ("VMSize16", 16)] {
        if config.has_feature(feature) {
            cores = cores.max(size);
        }
    }
    MachineSize { cores }
}

/// A work item, unless the configuration rules out every instruction of it: a machine that
/// would run nothing (qt5's bic tests on a license-check configuration) is not started.
fn item(
    module: &ModuleInput,
    kind: WorkKind,
    list: &[Instruction],
    config: &PlatformConfig,
    properties: &Properties,
    significant: bool,
) -> Option<WorkItem> {
    let instructions = expand(list, properties);
    if leaf_count(&instructions) == 0 {
        return None;
    }
    Some(WorkItem {
        id: WorkItemId::new(&module.pin.project, &config.id, kind.clone()),
        module: module.pin.clone(),
        tree: module.tree.clone(),
        git_clone: module.config.has_tag("git"),
        significant,
        machine: machine(&module.config, &kind, config),
        depends_on: Vec::new(),
        instructions,
        // Assigned once every work item exists.
        build_key: BuildKey::default(),
    })
}

/// The build of a dependency module on this configuration, whose artifacts the module under
/// test installs.
fn dependency_build(
    module: &ModuleInput,
    config: &PlatformConfig,
    properties: &Properties,
    diagnostics: &mut Diagnostics,
) -> Option<WorkItem> {
    if config.has_feature("TestOnly") || !accepts(&module.config, config, properties, diagnostics) {
        return None;
    }
    let list = instructions(&module.config, "Build")?;
    let significant = !config.has_feature("Insignificant");
    item(module, WorkKind::Build, list, config, properties, significant)
}

/// The module's own work items on one configuration, as its features shape them
/// (COIN-FORMAT.md §10.3).
fn own_items(
    module: &ModuleInput,
    config: &PlatformConfig,
    properties: &Properties,
) -> Vec<WorkItem> {
    let insignificant = config.has_feature("Insignificant");
    let mut items = Vec::new();
    for (name, list) in &module.config.instructions {
        if list.is_empty() {
            continue;
        }
        let kind = WorkKind::new(name);
        let wanted = match &kind {
            WorkKind::Build => !config.has_feature("TestOnly"),
            // Coin skips the whole test work item for these; the last one exists to undo that.
            WorkKind::Test => {
                config.has_feature("DoNotRunTestsButCreateTestWorkItem")
                    || !(config.has_feature("DisableTests") || config.has_feature("DoNotRunTests"))
            }
            // Other kinds run where a configuration asks for them by name.
            WorkKind::Other(name) => config.has_feature(name),
        };
        if wanted {
            let insignificant_tests =
                kind == WorkKind::Test && config.has_feature("InsignificantTests");
            let significant = !(insignificant || insignificant_tests);
            items.extend(item(module, kind, list, config, properties, significant));
        }
    }
    items
}

/// Fills in `depends_on`: a build needs the builds of the modules it depends on (on the same
/// configuration, and on its platform dependencies for host tools); a test needs the build it
/// tests, which for `TestOnly` is the build of its platform dependency.
fn link(
    configurations: &mut [ConfigurationPlan],
    modules: &BTreeMap<ProjectName, ModuleInput>,
    root: &ProjectName,
    diagnostics: &mut Diagnostics,
) {
    let existing: BTreeSet<WorkItemId> =
        configurations.iter().flat_map(|c| c.work_items.iter().map(|w| w.id.clone())).collect();
    // An unknown platform dependency is reported once, by the platform set's own check.
    let ids: BTreeSet<String> = configurations.iter().map(|c| c.config.id.clone()).collect();
    let builds = |project: &ProjectName, config: &str, with_self: bool| -> Vec<WorkItemId> {
        let closure = modules.get(project).map(|m| m.closure.as_slice()).unwrap_or_default();
        closure
            .iter()
            .chain(with_self.then_some(project))
            .map(|p| WorkItemId::new(p, config, WorkKind::Build))
            .filter(|id| existing.contains(id))
            .collect()
    };
    for plan in configurations.iter_mut() {
        let config = &plan.config;
        for item in &mut plan.work_items {
            let project = &item.id.project;
            let mut needs = Vec::new();
            match &item.id.kind {
                WorkKind::Build => {
                    needs.extend(builds(project, &config.id, false));
                    for host in &config.platform_dependency {
                        needs.extend(builds(project, host, true));
                    }
                }
                WorkKind::Test if config.has_feature("TestOnly") => {
                    for tested in &config.platform_dependency {
                        let build = WorkItemId::new(project, tested, WorkKind::Build);
                        if !existing.contains(&build) && project == root && ids.contains(tested) {
                            diagnostics.error(
                                config.location.clone(),
                                format!("`{}` tests the build of `{tested}`, but `{project}` is not built there", config.id),
                            );
                        }
                        needs.extend(builds(project, tested, true));
                    }
                }
                WorkKind::Test => needs.extend(builds(project, &config.id, true)),
                WorkKind::Other(_) => {}
            }
            needs.dedup();
            item.depends_on = needs;
        }
    }
}

/// Computes every build key, dependencies first.
fn assign_keys(
    configurations: &mut [ConfigurationPlan],
    salt: &str,
    diagnostics: &mut Diagnostics,
) {
    let mut index = HashMap::new();
    for (c, plan) in configurations.iter().enumerate() {
        for (i, item) in plan.work_items.iter().enumerate() {
            index.insert(item.id.clone(), (c, i));
        }
    }
    let mut keys: HashMap<WorkItemId, BuildKey> = HashMap::new();
    let ids: Vec<WorkItemId> = index.keys().cloned().collect();
    for id in ids {
        key_of(&id, configurations, &index, salt, &mut keys, &mut Vec::new(), diagnostics);
    }
    for plan in configurations.iter_mut() {
        for item in &mut plan.work_items {
            item.build_key = keys[&item.id];
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn key_of(
    id: &WorkItemId,
    configurations: &[ConfigurationPlan],
    index: &HashMap<WorkItemId, (usize, usize)>,
    salt: &str,
    keys: &mut HashMap<WorkItemId, BuildKey>,
    visiting: &mut Vec<WorkItemId>,
    diagnostics: &mut Diagnostics,
) -> Option<BuildKey> {
    if let Some(key) = keys.get(id) {
        return Some(*key);
    }
    if visiting.contains(id) {
        let (c, _) = index[id];
        let chain: Vec<String> = visiting.iter().map(ToString::to_string).collect();
        diagnostics.error(
            configurations[c].config.location.clone(),
            format!("work items depend on each other in a cycle: {} -> {id}", chain.join(" -> ")),
        );
        return None;
    }
    let &(c, i) = index.get(id)?;
    let plan = &configurations[c];
    let item = &plan.work_items[i];
    visiting.push(id.clone());
    let dependencies: Vec<BuildKey> = item
        .depends_on
        .iter()
        .filter_map(|d| key_of(d, configurations, index, salt, keys, visiting, diagnostics))
        .collect();
    visiting.pop();
    let key = build_key(&KeyInputs {
        salt,
        project: &item.id.project,
        kind: item.id.kind.as_str(),
        tree: &item.tree,
        commit: item.git_clone.then_some(&item.module.revision),
        config: &plan.config,
        instructions: &item.instructions,
        dependencies: &dependencies,
    });
    keys.insert(id.clone(), key);
    Some(key)
}
