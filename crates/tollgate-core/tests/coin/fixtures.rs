//! The Qt fixtures of `../shared/coin-fixtures`, loaded into a `MemorySource`.
//!
//! Folder `qt+qtbase` is project `qt/qtbase`. The fixtures are one consistent integration, so
//! every pinned revision reads the same files.

use std::path::{Path, PathBuf};

use tollgate_core::plan::{Plan, PlanRequest, plan};
use tollgate_core::source::{MemorySource, Pin, ProjectName, Revision};

/// `../shared/coin-fixtures`, found from the repository root. Under CI it must be there: a
/// missing fixture set fails loudly rather than skipping.
pub fn fixtures_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("../shared/coin-fixtures");
    assert!(
        dir.is_dir(),
        "the Coin fixtures are missing: expected {} (../shared beside the repository)",
        dir.display()
    );
    dir
}

pub fn fixture_source() -> MemorySource {
    let mut source = MemorySource::new();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue;
        }
        let project = entry.file_name().to_string_lossy().replace('+', "/");
        add_tree(&mut source, &project, &entry.path(), &entry.path());
    }
    source
}

fn add_tree(source: &mut MemorySource, project: &str, base: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            add_tree(source, project, base, &path);
        } else {
            let relative = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            source.add(project, &relative, std::fs::read(&path).unwrap());
        }
    }
}

/// The revisions SOURCES.md gives.
pub fn revision_of(project: &str) -> &'static str {
    match project {
        "qt/qtbase" => "4678d96d874c21b69f4942e3bfdc5fc97128cf4e",
        "qt/qt5" => "0face339463cd41e0b4eb22b4dcf936eb345005b",
        "qt/qtsvg" => "127d518bf3b0e313c584975363a5a83634e03422",
        "qt/qtdeclarative" => "a4a90222aee5db576963ac641d7bb8203e5b1b84",
        "qt/qtshadertools" => "445a059b793173d0b584b0ddefdefca3bff2b6bb",
        "qtproject/qtsdk" => "6828e6c9bba3db77dd810b35dfed6074b2c3f06d",
        other => panic!("no fixture for {other}"),
    }
}

pub fn pin(project: &str) -> Pin {
    Pin::new(ProjectName::new(project).unwrap(), Revision::new(revision_of(project)))
}

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
