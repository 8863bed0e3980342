//! Planning with the Qt fixtures (`tollgate-fixtures`) and qt/qt5's platform configurations,
//! and small sources written inline.

use tollgate_core::plan::{Plan, PlanRequest, plan};
use tollgate_core::source::{MemorySource, Pin, ProjectName, Revision};
pub use tollgate_fixtures::{fixture_source, pin, revision_of};

/// Plans a Qt module with platform configurations from qt/qt5.
pub fn plan_qt(source: &MemorySource, project: &str) -> Plan {
    plan_qt_at(source, project, revision_of(project))
}

/// Plans a module the fixtures do not ship (added by the test) at `revision`.
pub fn plan_qt_at(source: &MemorySource, project: &str, revision: &str) -> Plan {
    plan_at(source, project, revision, Some(("qt/qt5", revision_of("qt/qt5"))))
}

/// Plans `project` at `revision`, with the platform configurations of `platforms` (a project
/// and its revision), or else its own.
pub fn plan_at(
    source: &MemorySource,
    project: &str,
    revision: &str,
    platforms: Option<(&str, &str)>,
) -> Plan {
    let pin = |name: &str, revision: &str| {
        Pin::new(ProjectName::new(name).unwrap(), Revision::new(revision))
    };
    let request = PlanRequest {
        project: pin(project, revision),
        platforms: platforms.map(|(name, revision)| pin(name, revision)),
        salt: "test".into(),
    };
    plan(source, &request).expect("a memory source does not fail")
}

/// Files written inline, each after a header line: `//- owner/name/path` for a file at every
/// revision, `//- owner/name@revision/path` for a file at one revision only.
pub fn memory_source(files: &str) -> MemorySource {
    let mut source = MemorySource::new();
    let mut current: Option<(String, Option<String>, String, String)> = None;
    let mut flush = |entry: Option<(String, Option<String>, String, String)>| {
        let Some((project, revision, path, content)) = entry else { return };
        match revision {
            Some(revision) => source.add_at(&project, &revision, &path, content),
            None => source.add(&project, &path, content),
        };
    };
    for line in files.lines() {
        if let Some(header) = line.strip_prefix("//- ") {
            flush(current.take());
            let mut parts = header.trim().splitn(3, '/');
            let (owner, name, path) =
                (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            let (name, revision) = match name.split_once('@') {
                Some((name, revision)) => (name, Some(revision.to_owned())),
                None => (name, None),
            };
            current = Some((format!("{owner}/{name}"), revision, path.to_owned(), String::new()));
        } else if let Some((_, _, _, content)) = current.as_mut() {
            content.push_str(line);
            content.push('\n');
        }
    }
    flush(current);
    source
}
