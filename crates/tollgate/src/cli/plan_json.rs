//! The JSON form of a plan: a stable shape for scripts, separate from the core's types.

use serde::Serialize;
use tollgate_core::diagnostic::Diagnostic;
use tollgate_core::plan::{ConfigurationPlan, Plan, WorkItem};
use tollgate_core::source::Pin;

#[derive(Serialize)]
pub struct PlanJson {
    project: String,
    revision: String,
    platforms: PinJson,
    modules: Vec<ModuleJson>,
    configurations: Vec<ConfigurationJson>,
    diagnostics: Vec<DiagnosticJson>,
}

#[derive(Serialize)]
struct PinJson {
    project: String,
    revision: String,
}

#[derive(Serialize)]
struct ModuleJson {
    project: String,
    revision: String,
    required: bool,
    dependencies: Vec<String>,
}

#[derive(Serialize)]
struct ConfigurationJson {
    id: String,
    accepted: bool,
    template: String,
    features: Vec<String>,
    platform_dependency: Vec<String>,
    work_items: Vec<WorkItemJson>,
}

#[derive(Serialize)]
struct WorkItemJson {
    id: String,
    project: String,
    kind: String,
    significant: bool,
    cores: u32,
    depends_on: Vec<String>,
    /// Leaf instructions after the configuration's conditions.
    instructions: usize,
    build_key: String,
}

#[derive(Serialize)]
struct DiagnosticJson {
    file: String,
    revision: String,
    line: u32,
    column: u32,
    severity: &'static str,
    message: String,
}

pub fn plan(plan: &Plan) -> PlanJson {
    PlanJson {
        project: plan.project.project.to_string(),
        revision: plan.project.revision.to_string(),
        platforms: pin(&plan.platforms),
        modules: plan
            .modules
            .iter()
            .map(|m| ModuleJson {
                project: m.pin.project.to_string(),
                revision: m.pin.revision.to_string(),
                required: m.required,
                dependencies: m.dependencies.iter().map(ToString::to_string).collect(),
            })
            .collect(),
        configurations: plan.configurations.iter().map(configuration).collect(),
        diagnostics: plan.diagnostics.iter().map(diagnostic).collect(),
    }
}

fn pin(pin: &Pin) -> PinJson {
    PinJson { project: pin.project.to_string(), revision: pin.revision.to_string() }
}

fn configuration(plan: &ConfigurationPlan) -> ConfigurationJson {
    ConfigurationJson {
        id: plan.config.id.clone(),
        accepted: plan.accepted,
        template: plan.config.template.clone(),
        features: plan.config.features.clone(),
        platform_dependency: plan.config.platform_dependency.clone(),
        work_items: plan.work_items.iter().map(work_item).collect(),
    }
}

fn work_item(item: &WorkItem) -> WorkItemJson {
    WorkItemJson {
        id: item.id.to_string(),
        project: item.id.project.to_string(),
        kind: item.id.kind.to_string(),
        significant: item.significant,
        cores: item.machine.cores,
        depends_on: item.depends_on.iter().map(ToString::to_string).collect(),
        instructions: item.leaf_count(),
        build_key: item.build_key.to_string(),
    }
}

fn diagnostic(d: &Diagnostic) -> DiagnosticJson {
    DiagnosticJson {
        file: d.location.file.to_string(),
        revision: d.location.file.pin.revision.to_string(),
        line: d.location.position.line,
        column: d.location.position.column,
        severity: d.severity.as_str(),
        message: d.message.clone(),
    }
}
