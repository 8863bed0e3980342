//! Planning with the Qt fixtures (`tollgate-fixtures`) and qt/qt5's platform configurations.

use tollgate_core::plan::{Plan, PlanRequest, plan};
use tollgate_core::source::{MemorySource, Pin, ProjectName, Revision};
pub use tollgate_fixtures::{fixture_source, pin, revision_of};

/// Plans a Qt module with platform configurations from qt/qt5.
pub fn plan_qt(source: &MemorySource, project: &str) -> Plan {
    plan_qt_at(source, project, revision_of(project))
}

/// Plans a module the fixtures do not ship (added by the test) at `revision`.
pub fn plan_qt_at(source: &MemorySource, project: &str, revision: &str) -> Plan {
    let project = Pin::new(ProjectName::new(project).unwrap(), Revision::new(revision));
    let request = PlanRequest { project, platforms: Some(pin("qt/qt5")), salt: "test".into() };
    plan(source, &request).expect("a memory source does not fail")
}
