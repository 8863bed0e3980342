use crate::fixtures::*;

#[test]
fn scratch() {
    let source = fixture_source();
    for project in ["qt/qtbase", "qt/qtsvg", "qt/qtdeclarative", "qt/qtshadertools"] {
        let plan = plan_qt(&source, project);
        println!(
            "{project}: {} configurations, {} accepted, {} work items",
            plan.configurations.len(),
            plan.configurations.iter().filter(|c| c.accepted).count(),
            plan.work_items().count()
        );
        for d in &plan.diagnostics {
            println!("  {d}");
        }
    }
    let plan = plan_qt(&source, "qt/qtsvg");
    for c in &plan.configurations {
        if c.config.id == "ubuntu-22.04"
            || c.config.id == "ubuntu-22.04-x11-tests"
            || c.config.id == "ubuntu-22.04-license-check"
        {
            for w in &c.work_items {
                println!(
                    "{} leaves={} deps={:?} {}",
                    w.id,
                    w.leaf_count(),
                    w.depends_on.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                    w.build_key
                );
            }
        }
    }
}
