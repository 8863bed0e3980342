//! The human form of a plan: one row per configuration, one column per kind of work item of
//! the project, then the dependency modules built on that configuration, then diagnostics.

use std::fmt::Write;

use crate::cli::text::plural;

use tollgate_core::plan::{Plan, WorkItem, WorkKind};

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let project = &plan.project.project;
    let _ = writeln!(
        out,
        "{} at {}, platform configurations from {} at {}\n",
        project,
        plan.project.revision.short(),
        plan.platforms.project,
        plan.platforms.revision.short()
    );
    let mut kinds: Vec<WorkKind> = Vec::new();
    for item in plan.work_items().filter(|item| &item.id.project == project) {
        if !kinds.contains(&item.id.kind) {
            kinds.push(item.id.kind.clone());
        }
    }
    kinds.sort();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["CONFIGURATION".to_owned()];
    header.extend(kinds.iter().map(|k| k.as_str().to_uppercase()));
    header.push("ALSO BUILDS".to_owned());
    rows.push(header);
    for configuration in &plan.configurations {
        let mut row = vec![configuration.config.id.clone()];
        if !configuration.accepted {
            row.push("not accepted".to_owned());
            rows.push(row);
            continue;
        }
        for kind in &kinds {
            let own = configuration
                .work_items
                .iter()
                .find(|i| &i.id.project == project && &i.id.kind == kind);
            row.push(own.map_or_else(|| "-".to_owned(), cell));
        }
        let also: Vec<&str> = configuration
            .work_items
            .iter()
            .filter(|i| &i.id.project != project)
            .map(|i| i.id.project.short_name())
            .collect();
        row.push(if also.is_empty() { "-".to_owned() } else { also.join(", ") });
        rows.push(row);
    }
    table(&mut out, &rows);

    let accepted = plan.configurations.iter().filter(|c| c.accepted).count();
    let items = plan.work_items().count();
    let errors = plan.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = plan.diagnostics.len() - errors;
    if !plan.diagnostics.is_empty() {
        out.push('\n');
        for diagnostic in &plan.diagnostics {
            let _ = writeln!(out, "{diagnostic}");
        }
    }
    let _ = writeln!(
        out,
        "\n{}, {accepted} accepted, {}; {}, {}",
        plural(plan.configurations.len(), "configuration"),
        plural(items, "work item"),
        plural(errors, "error"),
        plural(warnings, "warning"),
    );
    out
}

/// `215 instr, 8 cores`, marked when a failure would not block the integration.
fn cell(item: &WorkItem) -> String {
    let cores = item.machine.cores;
    let unit = if cores == 1 { "core" } else { "cores" };
    let mut text = format!("{} instr, {cores} {unit}", item.leaf_count());
    if !item.significant {
        text.push_str(", insignificant");
    }
    text
}

fn table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, text) in row.iter().enumerate() {
            let _ = write!(line, "{text:<width$}  ", width = widths[c]);
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}
