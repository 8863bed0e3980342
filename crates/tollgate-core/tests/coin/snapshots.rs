//! The work items of each Qt module, pinned. A change here is a change in what an integration
//! runs: review it with `cargo insta review`.

use std::fmt::Write;

use tollgate_core::plan::Plan;

use crate::fixtures::*;

/// One line per configuration, one indented line per work item. Build keys are left out: the
/// golden test pins the key function, and they would churn with every encoding change.
fn work_item_list(plan: &Plan) -> String {
    let mut out = String::new();
    for configuration in &plan.configurations {
        let accepted = if configuration.accepted { "" } else { " (not accepted)" };
        let _ = writeln!(out, "{}{accepted}", configuration.config.id);
        for item in &configuration.work_items {
            let needs: Vec<String> = item.depends_on.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "  {} {} {}{}c instr={} needs=[{}]",
                item.id.kind,
                item.id.project,
                if item.significant { "" } else { "insignificant " },
                item.machine.cores,
                item.leaf_count(),
                needs.join(", ")
            );
        }
    }
    for diagnostic in &plan.diagnostics {
        let _ = writeln!(out, "{diagnostic}");
    }
    out
}

macro_rules! snapshot {
    ($name:ident, $project:literal) => {
        #[test]
        fn $name() {
            let plan = plan_qt(&fixture_source(), $project);
            insta::assert_snapshot!(work_item_list(&plan));
        }
    };
}

snapshot!(qtbase, "qt/qtbase");
snapshot!(qtsvg, "qt/qtsvg");
snapshot!(qtdeclarative, "qt/qtdeclarative");
snapshot!(qtshadertools, "qt/qtshadertools");
// The product itself: its includes name its submodules, at the revisions it pins them to.
snapshot!(qt5, "qt/qt5");
