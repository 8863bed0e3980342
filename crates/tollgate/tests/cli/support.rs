//! What the command-line tests share: sources folders made in temporary folders, and running
//! the real binary (and git) in a controlled environment.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;
use tollgate_fixtures::project_dir;

use crate::plan::BUILD_TEMPLATE;

// ---- sources folders ----

/// A sources folder in a temporary directory, with a `home` beside it so that git never reads
/// the user's configuration.
pub(crate) struct Sources {
    pub(crate) dir: TempDir,
}

impl Sources {
    pub(crate) fn new() -> Sources {
        let sources = Sources { dir: tempfile::tempdir().unwrap() };
        fs::create_dir_all(sources.root()).unwrap();
        fs::create_dir_all(sources.home()).unwrap();
        sources
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("sources")
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The project is a plain folder elsewhere, reached through a symlink.
    pub(crate) fn link(&self, project: &str, target: &Path) {
        let path = self.root().join(project);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        symlink(target, path).unwrap();
    }

    /// The project is a plain copy of `from`.
    pub(crate) fn copy(&self, project: &str, from: &Path) {
        copy_tree(from, &self.root().join(project));
    }

    /// The project is a git repository whose work tree is a copy of `from`, nothing committed.
    pub(crate) fn git_copy(&self, project: &str, from: &Path) {
        self.copy(project, from);
        self.git(project, &["init", "-q", "-b", "main"]);
    }

    pub(crate) fn write(&self, file: &str, content: &str) {
        fs::write(self.root().join(file), content).unwrap();
    }

    /// Commits the whole work tree; returns the commit id.
    pub(crate) fn commit(&self, project: &str, message: &str) -> String {
        self.git(project, &["add", "-A"]);
        self.git(project, &["commit", "-q", "-m", message]);
        self.git(project, &["rev-parse", "HEAD"])
    }

    pub(crate) fn git(&self, project: &str, args: &[&str]) -> String {
        let mut command = isolated("git", &self.home());
        for (key, value) in [("NAME", "Test"), ("EMAIL", "test@example.invalid")] {
            command.env(format!("GIT_AUTHOR_{key}"), value);
            command.env(format!("GIT_COMMITTER_{key}"), value);
        }
        let output = command.args(args).current_dir(self.root().join(project)).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "git {args:?} in {project} failed: {stderr}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    pub(crate) fn plan(&self, project: &str, extra: &[&str]) -> Run {
        let root = self.root();
        let mut args = vec!["plan", project, "--sources", path_str(&root)];
        args.extend(extra);
        run(isolated(env!("CARGO_BIN_EXE_tollgate"), &self.home()).args(args))
    }

    /// qtsvg's `dependencies.yaml` pins qtbase at `commit` (qtsvg at a new commit).
    pub(crate) fn pin_qtbase_in_qtsvg(&self, commit: &str) {
        let pins = fs::read_to_string(self.root().join("qt/qtsvg/dependencies.yaml")).unwrap();
        let fixture_pin = "4678d96d874c21b69f4942e3bfdc5fc97128cf4e";
        assert!(pins.contains(fixture_pin), "qtsvg's fixture pins another qtbase: {pins}");
        self.write("qt/qtsvg/dependencies.yaml", &pins.replace(fixture_pin, commit));
        self.commit("qt/qtsvg", "Pin qtbase");
    }
}

/// The Qt fixtures with qtbase and qtsvg as git repositories: qtbase first commits the fixture
/// (returned first), then breaks its build template at HEAD (returned second). qt/qt5 stays a
/// plain folder.
pub(crate) fn qt_with_broken_head() -> (Sources, String, String) {
    let sources = Sources::new();
    sources.link("qt/qt5", &project_dir("qt/qt5"));
    sources.git_copy("qt/qtsvg", &project_dir("qt/qtsvg"));
    sources.commit("qt/qtsvg", "Fixture");
    sources.git_copy("qt/qtbase", &project_dir("qt/qtbase"));
    let good = sources.commit("qt/qtbase", "Fixture");
    let template = format!("qt/qtbase/{BUILD_TEMPLATE}");
    let text = fs::read_to_string(sources.root().join(&template)).unwrap();
    sources.write(&template, &format!("{text}\n  - [unclosed\n"));
    let broken = sources.commit("qt/qtbase", "Break the build template");
    (sources, good, broken)
}

/// The example sources folder, `examples/sources`.
pub(crate) fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sources")
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            // `fs::copy` keeps the mode, so `tests/check.sh` stays executable.
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub(crate) fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

// ---- running processes ----

/// `program` without the caller's `GIT_*` variables or git configuration, with `home` as HOME.
pub(crate) fn isolated(program: &str, home: &Path) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            command.env_remove(key);
        }
    }
    command.env("HOME", home).env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_CONFIG_GLOBAL", "/dev/null");
    command
}

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub(crate) fn run(command: &mut Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code().expect("tollgate exited by a signal"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `tollgate ARGS` outside any sources folder of a test.
pub(crate) fn tollgate(args: &[&str]) -> Run {
    run(Command::new(env!("CARGO_BIN_EXE_tollgate")).args(args))
}

pub(crate) fn plan_json(sources: &Path, project: &str) -> Value {
    let run = tollgate(&["plan", project, "--sources", path_str(sources), "--json"]);
    assert_eq!(run.code, 0, "{project}: {}", run.stderr);
    run.json()
}
