//! `tollgate plan` as a user runs it: the real binary on sources folders of plain folders and
//! real git repositories, built from `../shared/coin-fixtures` and `examples/sources`.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;
use tollgate_fixtures::project_dir;

const QT_MODULES: [&str; 5] =
    ["qt/qtbase", "qt/qt5", "qt/qtsvg", "qt/qtdeclarative", "qt/qtshadertools"];
/// The template every Qt module's Build includes from qtbase.
const BUILD_TEMPLATE: &str = "coin/instructions/coin_module_build_template_v2.yaml";

#[test]
fn qt_modules_plan_without_errors_with_their_configurations() {
    let sources = Sources::new();
    for project in QT_MODULES {
        sources.link(project, &project_dir(project));
    }
    // COIN-FORMAT.md §10.2; qtshadertools.yaml includes the same files as qtsvg.yaml.
    for (project, count) in
        [("qt/qtbase", 80), ("qt/qtsvg", 71), ("qt/qtdeclarative", 73), ("qt/qtshadertools", 71)]
    {
        let run = sources.plan(project, &["--platforms-from", "qt/qt5", "--json"]);
        assert_eq!(run.code, 0, "{project}: {}", run.stderr);
        let plan = run.json();
        assert_eq!(errors(&plan), Vec::<String>::new(), "{project}");
        assert_eq!(plan["project"], project);
        assert_eq!(plan["configurations"].as_array().unwrap().len(), count, "{project}");
        assert_documented_shape(&plan);
    }
}

#[test]
fn includes_are_read_at_the_pinned_commit_not_at_head() {
    let (sources, good, _broken) = qt_with_broken_head();
    sources.pin_qtbase_in_qtsvg(&good);

    let run = sources.plan("qt/qtsvg", &["--platforms-from", "qt/qt5", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = run.json();
    assert_eq!(errors(&plan), Vec::<String>::new());
    let qtbase = plan["modules"].as_array().unwrap().iter().find(|m| m["project"] == "qt/qtbase");
    assert_eq!(qtbase.unwrap()["revision"], good.as_str());
    // COIN-FORMAT.md §13.1: the whole template, four levels of includes deep.
    let build = work_item(&plan, "qt/qtsvg:ubuntu-22.04:Build");
    assert_eq!(build["instructions"], 215);
}

#[test]
fn a_pin_to_a_broken_commit_names_the_broken_file() {
    let (sources, _good, broken) = qt_with_broken_head();
    sources.pin_qtbase_in_qtsvg(&broken);

    let run = sources.plan("qt/qtsvg", &["--platforms-from", "qt/qt5", "--json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let plan = run.json();
    let errors: Vec<&Value> = diagnostics_of(&plan, "error").collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["file"], format!("qt/qtbase/{BUILD_TEMPLATE}"));
    assert_eq!(errors[0]["revision"], broken);
    assert!(errors[0]["message"].as_str().unwrap().contains("invalid YAML"), "{:#}", errors[0]);
}

#[test]
fn example_greeter_table() {
    let run = tollgate(&["plan", "demo/greeter", "--sources", path_str(&examples())]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn example_greeter_builds_on_libgreet_and_reuses_its_build() {
    let greeter = plan_json(&examples(), "demo/greeter");
    let libgreet = plan_json(&examples(), "demo/libgreet");
    for plan in [&greeter, &libgreet] {
        assert_eq!(errors(plan), Vec::<String>::new());
        assert_eq!(warnings(plan), Vec::<String>::new());
    }
    assert_greeter_builds_on_libgreet(&greeter);
    // Same sources, instructions and configuration: a stored libgreet build serves both.
    for id in ["demo/libgreet:debian-12:Build", "demo/libgreet:debian-12-clang:Build"] {
        assert_eq!(work_item(&greeter, id)["build_key"], work_item(&libgreet, id)["build_key"]);
    }
}

#[test]
fn example_as_git_repositories_plans_without_errors() {
    let sources = Sources::new();
    sources.git_copy("demo/libgreet", &examples().join("demo/libgreet"));
    let libgreet = sources.commit("demo/libgreet", "libgreet");
    sources.git_copy("demo/greeter", &examples().join("demo/greeter"));
    sources.write(
        "demo/greeter/dependencies.yaml",
        &format!("dependencies:\n  ../libgreet:\n    ref: {libgreet}\n    required: true\n"),
    );
    sources.commit("demo/greeter", "greeter");

    let run = sources.plan("demo/greeter", &["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = run.json();
    assert_eq!(errors(&plan), Vec::<String>::new());
    let modules = plan["modules"].as_array().unwrap();
    assert!(modules.iter().any(|m| m["project"] == "demo/libgreet" && m["revision"] == libgreet));
    assert_greeter_builds_on_libgreet(&plan);
}

#[test]
fn error_diagnostics_exit_1_and_name_file_line_column() {
    let sources = Sources::new();
    for project in ["demo/libgreet", "demo/greeter"] {
        sources.copy(project, &examples().join(project));
    }
    let config = "demo/greeter/coin/module_config.yaml";
    let text = fs::read_to_string(sources.root().join(config)).unwrap();
    let broken = text.replacen("type: EnvironmentVariable", "type: EnvironmentVariabel", 1);
    sources.write(config, &broken);
    let (line, column) = position_of(&broken, "EnvironmentVariabel");

    let run = sources.plan("demo/greeter", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let at = format!("{config}:{line}:{column}: error:");
    let diagnostic = run.stdout.lines().find(|l| l.starts_with(&at));
    let diagnostic = diagnostic.unwrap_or_else(|| panic!("no `{at}` in:\n{}", run.stdout));
    assert!(diagnostic.contains("EnvironmentVariabel"), "{diagnostic}");
    assert!(run.stdout.contains("; 1 error,"), "{}", run.stdout);
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let examples = examples();
    let examples = path_str(&examples);
    let cases: [(&[&str], &str); 4] = [
        (&["plan", "demo/greeter"], "--sources"),
        (&["plan", "demo/greeter", "--sources", "/nonexistent/sources"], "does not exist"),
        (&["plan", "demo/nothing", "--sources", examples], "project `demo/nothing` is not in"),
        (&["plan", "../greeter", "--sources", examples], "`../greeter` is not a project name"),
    ];
    for (args, message) in cases {
        let run = tollgate(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: expected `{message}` in {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
    }
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let examples = examples();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["plan", "demo/greeter", "--sources", path_str(&examples), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // As `tollgate plan … | head` does once it has read enough: the pipe is closed.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

// ---- what the tests look for in a plan ----

/// The keys the issue promises to scripts, on every configuration, work item and diagnostic.
fn assert_documented_shape(plan: &Value) {
    let has = |value: &Value, keys: &[&str]| {
        for key in keys {
            assert!(value.get(key).is_some(), "no `{key}` in {value:#}");
        }
    };
    has(plan, &["project", "configurations", "diagnostics"]);
    for configuration in plan["configurations"].as_array().unwrap() {
        has(configuration, &["id", "accepted", "features", "work_items"]);
        for item in configuration["work_items"].as_array().unwrap() {
            has(item, &["id", "kind", "significant", "depends_on", "instructions", "build_key"]);
        }
    }
    for diagnostic in plan["diagnostics"].as_array().unwrap() {
        has(diagnostic, &["file", "line", "column", "severity", "message"]);
    }
}

/// greeter's work items need libgreet's build on the configuration whose build they use.
fn assert_greeter_builds_on_libgreet(plan: &Value) {
    for (item, needs) in [
        ("demo/greeter:debian-12:Build", "demo/libgreet:debian-12:Build"),
        ("demo/greeter:debian-12-tests:Test", "demo/libgreet:debian-12:Build"),
        ("demo/greeter:debian-12-clang:Build", "demo/libgreet:debian-12-clang:Build"),
    ] {
        let depends_on = work_item(plan, item)["depends_on"].as_array().unwrap();
        assert!(
            depends_on.iter().any(|d| d == needs),
            "{item} should need {needs}: {depends_on:?}"
        );
    }
}

fn work_item<'a>(plan: &'a Value, id: &str) -> &'a Value {
    let items = plan["configurations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["work_items"].as_array().unwrap().iter());
    items.clone().find(|item| item["id"] == id).unwrap_or_else(|| {
        let ids: Vec<&Value> = items.map(|item| &item["id"]).collect();
        panic!("no work item {id} in {ids:?}")
    })
}

fn errors(plan: &Value) -> Vec<String> {
    diagnostics(plan, "error")
}

fn warnings(plan: &Value) -> Vec<String> {
    diagnostics(plan, "warning")
}

fn diagnostics_of<'a>(plan: &'a Value, severity: &str) -> impl Iterator<Item = &'a Value> {
    let all = plan["diagnostics"].as_array().unwrap();
    all.iter().filter(move |d| d["severity"] == severity)
}

/// `file:line:column: message` of each diagnostic of one severity.
fn diagnostics(plan: &Value, severity: &str) -> Vec<String> {
    diagnostics_of(plan, severity)
        .map(|d| {
            let file = d["file"].as_str().unwrap();
            format!("{file}:{}:{}: {}", d["line"], d["column"], d["message"].as_str().unwrap())
        })
        .collect()
}

/// 1-based line and column of the first `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .find_map(|(n, line)| line.find(needle).map(|column| (n + 1, column + 1)))
        .unwrap_or_else(|| panic!("no `{needle}` in the text"))
}

// ---- sources folders ----

/// A sources folder in a temporary directory, with a `home` beside it so that git never reads
/// the user's configuration.
struct Sources {
    dir: TempDir,
}

impl Sources {
    fn new() -> Sources {
        let sources = Sources { dir: tempfile::tempdir().unwrap() };
        fs::create_dir_all(sources.root()).unwrap();
        fs::create_dir_all(sources.home()).unwrap();
        sources
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("sources")
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The project is a plain folder elsewhere, reached through a symlink.
    fn link(&self, project: &str, target: &Path) {
        let path = self.root().join(project);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        symlink(target, path).unwrap();
    }

    /// The project is a plain copy of `from`.
    fn copy(&self, project: &str, from: &Path) {
        copy_tree(from, &self.root().join(project));
    }

    /// The project is a git repository whose work tree is a copy of `from`, nothing committed.
    fn git_copy(&self, project: &str, from: &Path) {
        self.copy(project, from);
        self.git(project, &["init", "-q", "-b", "main"]);
    }

    fn write(&self, file: &str, content: &str) {
        fs::write(self.root().join(file), content).unwrap();
    }

    /// Commits the whole work tree; returns the commit id.
    fn commit(&self, project: &str, message: &str) -> String {
        self.git(project, &["add", "-A"]);
        self.git(project, &["commit", "-q", "-m", message]);
        self.git(project, &["rev-parse", "HEAD"])
    }

    fn git(&self, project: &str, args: &[&str]) -> String {
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

    fn plan(&self, project: &str, extra: &[&str]) -> Run {
        let root = self.root();
        let mut args = vec!["plan", project, "--sources", path_str(&root)];
        args.extend(extra);
        run(isolated(env!("CARGO_BIN_EXE_tollgate"), &self.home()).args(args))
    }

    /// qtsvg's `dependencies.yaml` pins qtbase at `commit` (qtsvg at a new commit).
    fn pin_qtbase_in_qtsvg(&self, commit: &str) {
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
fn qt_with_broken_head() -> (Sources, String, String) {
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
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sources")
}

fn copy_tree(from: &Path, to: &Path) {
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

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

// ---- running processes ----

/// `program` without the caller's `GIT_*` variables or git configuration, with `home` as HOME.
fn isolated(program: &str, home: &Path) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            command.env_remove(key);
        }
    }
    command.env("HOME", home).env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_CONFIG_GLOBAL", "/dev/null");
    command
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

fn run(command: &mut Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code().expect("tollgate exited by a signal"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `tollgate ARGS` outside any sources folder of a test.
fn tollgate(args: &[&str]) -> Run {
    run(Command::new(env!("CARGO_BIN_EXE_tollgate")).args(args))
}

fn plan_json(sources: &Path, project: &str) -> Value {
    let run = tollgate(&["plan", project, "--sources", path_str(sources), "--json"]);
    assert_eq!(run.code, 0, "{project}: {}", run.stderr);
    run.json()
}
