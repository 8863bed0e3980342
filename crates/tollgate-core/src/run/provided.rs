//! The environment variables Coin gives every work item (COIN-FORMAT.md §9.3), as far as they
//! follow from the plan. The branch (`TESTED_MODULE_BRANCH_COIN`) and the machine's own
//! variables (`HOME`, `PATH`, ...) come from the controller and the agent.

use crate::plan::{BuildKey, Plan, WorkItem, WorkItemId, WorkKind};

/// Where a build's artifacts are stored, relative to the artifact storage. Named by the build
/// key, so that every work item with the same key finds the same archives.
pub fn artifact_path(key: &BuildKey) -> String {
    format!("artifacts/{}", key.to_hex())
}

/// `TESTED_MODULE_COIN` and its kin for `item`, in a stable order.
///
/// - `TESTED_MODULE_COIN`, `TESTED_MODULE_PLAIN_COIN`: the module the work item builds or tests,
///   by its short name (`qtsvg`). A dependency's build sees its own name, as it would in its own
///   integration, so that its result can be shared.
/// - `TESTED_MODULE_REVISION_COIN`: that module's revision.
/// - `COIN_PLATFORM_ID`, `TARGET_OS_COIN`, `TARGET_OSVERSION_COIN`: the configuration.
/// - `MODULE_ARTIFACTS_RELATIVE_STORAGE_PATH`: the artifacts of the module's build: its own for
///   a Build, the build it tests for a Test (for `TestOnly`, its platform dependency's).
/// - `QT_CI_ARTIFACT_ID_PATH_<id>`: the module's build on each platform dependency `<id>`
///   (COIN-FORMAT.md §9.3; which module's artifacts Coin means there is not documented).
pub fn provided_variables(plan: &Plan, item: &WorkItem) -> Vec<(String, String)> {
    let module = &item.module;
    let mut vars = vec![
        ("TESTED_MODULE_COIN".to_owned(), module.project.short_name().to_owned()),
        ("TESTED_MODULE_PLAIN_COIN".to_owned(), module.project.short_name().to_owned()),
        ("TESTED_MODULE_REVISION_COIN".to_owned(), module.revision.to_string()),
        ("COIN_PLATFORM_ID".to_owned(), item.id.config.clone()),
    ];
    let Some(configuration) = plan.configurations.iter().find(|c| c.config.id == item.id.config)
    else {
        return vars;
    };
    let target = &configuration.properties.target;
    for (name, value) in
        [("TARGET_OS_COIN", &target.os), ("TARGET_OSVERSION_COIN", &target.os_version)]
    {
        if let Some(value) = value {
            vars.push((name.to_owned(), value.clone()));
        }
    }
    let build_on = |config: &str| {
        let id = WorkItemId::new(&module.project, config, WorkKind::Build);
        plan.work_item(&id).map(|build| artifact_path(&build.build_key))
    };
    let own_build = match item.id.kind {
        WorkKind::Build => Some(artifact_path(&item.build_key)),
        _ => item
            .depends_on
            .iter()
            .filter(|id| id.project == module.project && id.kind == WorkKind::Build)
            // The build on this configuration if there is one, else a platform dependency's.
            .min_by_key(|id| id.config != item.id.config)
            .and_then(|id| build_on(&id.config)),
    };
    if let Some(path) = own_build {
        vars.push(("MODULE_ARTIFACTS_RELATIVE_STORAGE_PATH".to_owned(), path));
    }
    for dependency in &configuration.config.platform_dependency {
        if let Some(path) = build_on(dependency) {
            vars.push((format!("QT_CI_ARTIFACT_ID_PATH_{dependency}"), path));
        }
    }
    vars
}
