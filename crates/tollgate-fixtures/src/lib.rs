//! Qt's Coin files from `../shared/coin-fixtures`, for tests and benchmarks.
//!
//! Folder `qt+qtbase` holds project `qt/qtbase`. The fixtures are one consistent integration
//! (`SOURCES.md` gives each commit), so every revision a fixture pins reads the same files.
//! They are found beside the repository; when they are missing, every caller fails loudly with
//! the path it expected, never skips.

use std::path::{Path, PathBuf};

use tollgate_core::source::{MemorySource, Pin, ProjectName, RepoPath, Revision};

/// `../shared/coin-fixtures`, beside the repository root.
pub fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/coin-fixtures");
    assert!(
        dir.is_dir(),
        "the Coin fixtures are missing: expected {} (../shared beside the repository)",
        dir.display()
    );
    dir
}

/// The folder of one project: `qt/qtbase` is `…/coin-fixtures/qt+qtbase`.
pub fn project_dir(project: &str) -> PathBuf {
    fixtures_dir().join(project.replace('/', "+"))
}

/// The commit each fixture project was taken from (SOURCES.md).
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

/// A fixture project at its commit.
pub fn pin(project: &str) -> Pin {
    Pin::new(ProjectName::new(project).unwrap(), Revision::new(revision_of(project)))
}

/// One fixture file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FixtureFile {
    pub project: ProjectName,
    pub path: RepoPath,
    pub bytes: Vec<u8>,
}

/// Every fixture file, sorted by project and path.
pub fn fixture_files() -> Vec<FixtureFile> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir()).expect("the fixtures are readable") {
        let dir = entry.expect("the fixtures are readable").path();
        if dir.is_dir() {
            let name = dir.file_name().unwrap().to_string_lossy().replace('+', "/");
            let project = ProjectName::new(&name).expect("a fixture folder names a project");
            walk(&dir, &dir, &project, &mut files);
        }
    }
    files.sort();
    files
}

fn walk(dir: &Path, base: &Path, project: &ProjectName, into: &mut Vec<FixtureFile>) {
    for entry in std::fs::read_dir(dir).expect("the fixtures are readable") {
        let path = entry.expect("the fixtures are readable").path();
        if path.is_dir() {
            walk(&path, base, project, into);
        } else {
            let relative = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            into.push(FixtureFile {
                project: project.clone(),
                path: RepoPath::new(&relative).expect("a fixture path is relative"),
                bytes: std::fs::read(&path).expect("the fixtures are readable"),
            });
        }
    }
}

/// Every fixture file in a `MemorySource`, visible at every revision.
pub fn fixture_source() -> MemorySource {
    let mut source = MemorySource::new();
    for file in fixture_files() {
        source.add(file.project.as_str(), file.path.as_str(), file.bytes);
    }
    source
}
