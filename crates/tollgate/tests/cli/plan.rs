//! `tollgate plan` as a user runs it: the real binary on sources folders of plain folders and
//! real git repositories, built from `../shared/coin-fixtures` and `examples/sources`.

use std::fs;
use std::process::{Command, Stdio};

use serde_json::Value;
use tollgate_fixtures::project_dir;

use crate::support::*;

const QT_MODULES: [&str; 5] =
    ["qt/qtbase", "qt/qt5", "qt/qtsvg", "qt/qtdeclarative", "qt/qtshadertools"];
/// The template every Qt module's Build includes from qtbase.
pub(crate) const BUILD_TEMPLATE: &str = "coin/instructions/coin_module_build_template_v2.yaml";

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
