//! COIN-FORMAT.md §13, behaviours 5 to 9: what happens when a work item runs, checked by
//! walking Qt's real instruction lists through a `Session`. The machine's answers are data:
//! every action succeeds unless a test says otherwise, so each test shows exactly which
//! commands, with which argv, environment and limits, the executor would be asked to run.

use std::collections::BTreeMap;
use std::time::Duration;

use tollgate_core::plan::{Plan, WorkItem, WorkKind};
use tollgate_core::run::{
    Action, Execute, Layout, Note, Outcome, Report, Session, Step, Timeout, Verdict,
    provided_variables,
};
use tollgate_core::source::MemorySource;

use crate::behaviours::{configuration, own_item};
use crate::fixtures::*;

/// What the agent's login shell exports on a Qt Linux machine, as far as the files read it.
const AGENT: &[(&str, &str)] = &[
    ("HOME", "/home/qt"),
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("PYTHON3_PATH", "/usr/bin"),
    ("FFMPEG_DIR", "/home/qt/ffmpeg"),
];

/// A work item run to its end.
struct Run {
    /// Every action, in order, with the file:line of its instruction.
    actions: Vec<(String, Action)>,
    notes: Vec<(String, Note)>,
    verdict: Verdict,
}

impl Run {
    fn commands(&self) -> impl Iterator<Item = &Execute> {
        self.actions.iter().filter_map(|(_, action)| match action {
            Action::Execute(execute) => Some(execute),
            _ => None,
        })
    }

    /// The first command whose argv starts with `prefix`.
    fn command(&self, prefix: &[&str]) -> &Execute {
        self.commands()
            .find(|e| e.argv.len() >= prefix.len() && e.argv[..prefix.len()] == *prefix)
            .unwrap_or_else(|| panic!("no command {prefix:?} among {:#?}", self.argvs()))
    }

    fn argvs(&self) -> Vec<String> {
        self.commands().map(|e| e.argv.join(" ")).collect()
    }

    fn at(&self, file: &str) -> Vec<&Action> {
        self.actions.iter().filter(|(at, _)| at.contains(file)).map(|(_, a)| a).collect()
    }
}

/// Runs `item` with the agent's environment plus `extra`; `machine` answers every action.
fn run(
    plan: &Plan,
    item: &WorkItem,
    extra: &[(&str, &str)],
    mut machine: impl FnMut(&Action) -> Report,
) -> Run {
    let mut env: BTreeMap<String, String> =
        AGENT.iter().chain(extra).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.extend(provided_variables(plan, item));
    let layout = Layout::new("/home/qt/work", &item.module.project, 8);
    let mut session = Session::new(configuration(plan, &item.id.config), item, layout, env);
    let (mut actions, mut notes) = (Vec::new(), Vec::new());
    loop {
        match session.step() {
            Step::Act { instruction, action } => {
                session.finish(machine(&action));
                actions.push((instruction.location.to_string(), action));
            }
            Step::Note { instruction, note } => {
                notes.push((instruction.location.to_string(), note))
            }
            Step::Done(verdict) => return Run { actions, notes, verdict },
        }
    }
}

fn passes(_: &Action) -> Report {
    Report::Done
}

fn argv_is(action: &Action, argv0: &str) -> bool {
    matches!(action, Action::Execute(e) if e.argv.first().is_some_and(|a| a == argv0))
}

const BUILD: &[&str] = &["cmake", "--build", ".", "--parallel", "-v"];

/// qt/qtwebengine's module file as COIN-FORMAT.md §3.1 quotes it: it sets its own build timeout
/// and then includes qtbase's template. Pinned to the fixture qtbase.
fn with_webengine(source: &mut MemorySource) {
    source.add(
        "qt/qtwebengine",
        "coin/module_config.yaml",
        r#"version: 2
accept_configuration:
  condition: property
  property: features
  not_contains_value: Disable
instructions:
  Build:
    - type: EnvironmentVariable
      variableName: CMAKE_BUILD_TIMEOUT
      variableValue: "36000"
    - !include "{{qt/qtbase}}/coin_module_build_template_v2.yaml"
"#,
    );
    source.add(
        "qt/qtwebengine",
        "dependencies.yaml",
        format!("dependencies:\n  ../qtbase:\n    ref: {}\n", revision_of("qt/qtbase")),
    );
}

#[test]
fn b5_runtime_conditions_are_decided_in_order_against_the_live_environment() {
    let mut source = fixture_source();
    with_webengine(&mut source);
    let plan = plan_qt_at(&source, "qt/qtwebengine", "0123456789abcdef0123456789abcdef01234567");
    assert!(!plan.has_errors(), "{:#?}", plan.diagnostics);
    let item = own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap();
    let webengine = run(&plan, item, &[], passes);
    // The template's default (`CMAKE_BUILD_TIMEOUT` "6000" when it `equals_value: null`) is
    // skipped, and the limit renders from the variable the module set first.
    let build = webengine.command(BUILD);
    assert_eq!(build.max_time, Some(Duration::from_secs(36000)));
    assert_eq!(build.env["CMAKE_BUILD_TIMEOUT"], "36000");
    assert!(
        webengine
            .notes
            .iter()
            .any(|(at, note)| at.contains("cmake_module_build_instructions")
                && *note == Note::Skipped)
    );

    // For qtsvg the same instruction runs and gives 6000.
    let plan = plan_qt(&source, "qt/qtsvg");
    let item = own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap();
    let svg = run(&plan, item, &[], passes);
    assert_eq!(svg.command(BUILD).max_time, Some(Duration::from_secs(6000)));
    assert_eq!(svg.command(BUILD).max_silence, Some(Duration::from_secs(1200)));
    // `AXIVION_ANALYSIS not_equals_value: "1"` holds while it is unset, so the module builds,
    // and the Axivion branch does not run.
    assert!(!svg.command(BUILD).env.contains_key("AXIVION_ANALYSIS"));
    assert!(svg.at("coin_module_axivion_template_v2.yaml").is_empty());
    assert_eq!(svg.verdict.outcome, Outcome::Passed);
}

#[test]
fn b6_an_unset_variable_renders_empty() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");
    let item = own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap();
    let svg = run(&plan, item, &[], passes);
    // ubuntu-22.04 sets NON_QTBASE_CMAKE_ARGS only; NON_QTBASE_CONFIGURE_ARGS is unset.
    let configure = svg.command(&["/home/qt/work/install/bin/qt-configure-module"]);
    assert_eq!(configure.env["COIN_CONFIGURE_ARGS"], "");
    assert!(!configure.argv.iter().any(|a| a.contains("no value")), "{:?}", configure.argv);
    // The sources, then straight to `--`: no stray argument where the configure args would go.
    assert_eq!(configure.argv[1..3], ["/home/qt/work/qt/qtsvg", "--"]);
}

#[test]
fn b7_command_lines_are_split_exactly() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");
    let build = own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap();
    let svg = run(&plan, build, &[], passes);
    // `{{.Env.CONFIGURE_ENV_PREFIX}} cmake --build . --parallel -v` with an empty prefix: the
    // empty word is dropped, not passed as argv[0].
    assert_eq!(svg.command(BUILD).argv, BUILD);
    assert_eq!(svg.command(BUILD).env["CONFIGURE_ENV_PREFIX"], "");
    // SplitAfterVariableSubstitution spreads COIN_CMAKE_ARGS over many arguments.
    let configure = svg.command(&["/home/qt/work/install/bin/qt-configure-module"]);
    let cmake_args = &configure.argv[3..];
    assert!(cmake_args.contains(&"-DINPUT_headersclean=ON".to_owned()), "{cmake_args:?}");
    assert!(cmake_args.contains(&"-DQT_DEPLOY_FFMPEG=TRUE".to_owned()));
    assert!(cmake_args.contains(&"-DFFMPEG_DIR=/home/qt/ffmpeg".to_owned()));
    assert!(cmake_args.iter().all(|a| !a.is_empty() && !a.contains(' ')), "{cmake_args:?}");

    // The folded ctest copy keeps its path lines as two arguments: 5 in all.
    let tests = own_item(&plan, "ubuntu-22.04-x11-tests", WorkKind::Test).unwrap();
    let test = run(&plan, tests, &[], passes);
    let copy = test.command(&["cmake", "-E", "copy"]);
    assert_eq!(
        copy.argv,
        [
            "cmake",
            "-E",
            "copy",
            "Testing/Temporary/LastTest.log",
            "/home/qt/work/testresults/CTest.log"
        ]
    );

    // A list command is never split, even when an element holds a space.
    let mut source = fixture_source();
    source.add_at(
        "qt/qtsvg",
        revision_of("qt/qtsvg"),
        "coin/module_config.yaml",
        "version: 2\ninstructions:\n  Build:\n    - type: ExecuteCommand\n      command: [\"{{.InstallDir}}/bin/qmake\", \"a b\", \"{{.Env.UNSET}}\"]\n",
    );
    let plan = plan_qt(&source, "qt/qtsvg");
    let item = own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap();
    let listed = run(&plan, item, &[], passes);
    assert_eq!(listed.argvs(), ["/home/qt/work/install/bin/qmake a b "]);
    assert_eq!(listed.commands().next().unwrap().argv.len(), 3);
}

#[test]
fn b8_append_and_prepend_are_raw_concatenation_and_persist() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");
    // ubuntu-22.04 has the Sccache feature.
    let item = own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap();
    let svg = run(&plan, item, &[], passes);
    let configure = svg.command(&["/home/qt/work/install/bin/qt-configure-module"]);
    let env = &configure.env;
    let launchers = " -DCMAKE_C_COMPILER_LAUNCHER=sccache -DCMAKE_CXX_COMPILER_LAUNCHER=sccache";
    // Appended after the earlier appends, with the value's own leading space and no other.
    assert!(
        env["COMMON_NON_QTBASE_CMAKE_ARGS"].ends_with(&format!("=STATUS{launchers}")),
        "{env:#?}"
    );
    // `{{.Env.NON_QTBASE_CMAKE_ARGS}} {{.Env.COMMON_NON_QTBASE_CMAKE_ARGS}}`: one space from the
    // template, one from the appended value, and nothing added by tollgate.
    assert_eq!(
        env["COIN_CMAKE_ARGS"],
        format!("{} {}", env["NON_QTBASE_CMAKE_ARGS"], env["COMMON_NON_QTBASE_CMAKE_ARGS"])
    );

    // cmake_run_ctest.yaml prepends "{{.Env.PYTHON3_PATH}}:" to PATH, colon as written.
    let tests = own_item(&plan, "ubuntu-22.04-x11-tests", WorkKind::Test).unwrap();
    let test = run(&plan, tests, &[], passes);
    let ctest = test.command(&["ctest"]);
    assert_eq!(ctest.env["PATH"], "/usr/bin:/usr/local/bin:/usr/bin:/bin");
    // CTEST_ARGS was never set before its first append: the value alone.
    assert!(ctest.env["CTEST_ARGS"].starts_with(" --output-on-failure --no-label-summary"));
}

#[test]
fn b9_the_first_failure_stops_the_work_item_but_always_runs() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");
    let tests = own_item(&plan, "ubuntu-22.04-x11-tests", WorkKind::Test).unwrap();
    let ctest_fails = |action: &Action| match argv_is(action, "ctest") {
        true => Report::Exited(8),
        false => Report::Done,
    };

    let failed = run(&plan, tests, &[], ctest_fails);
    let Outcome::Failed(failure) = &failed.verdict.outcome else { panic!("{:?}", failed.verdict) };
    assert_eq!(failure.message, "exited with code 8");
    assert_eq!(failure.user_message.as_deref(), Some("Failed to run tests."));
    assert!(
        failure
            .location
            .to_string()
            .starts_with("qt/qtbase/coin/instructions/cmake_run_ctest.yaml:")
    );
    // The `executeOn: always` copy of LastTest.log runs after the failure, and it is the last
    // action: everything else after the failure is skipped.
    let last = failed.actions.last().map(|(_, a)| a).unwrap();
    assert!(matches!(last, Action::Execute(e) if e.argv[..3] == ["cmake", "-E", "copy"]));
    assert!(failed.notes.iter().any(|(_, n)| *n == Note::SkippedAfterFailure));
    // ScheduleUploadTestResults ran first, so the results are uploaded even now.
    assert!(failed.verdict.upload_test_results);
    // The ctest limits are 14400 s each.
    let ctest = failed.command(&["ctest"]);
    assert_eq!(
        (ctest.max_time, ctest.max_silence),
        (Some(Duration::from_secs(14400)), Some(Duration::from_secs(14400)))
    );

    // With COIN_CTEST_IGNORE_EXIT_CODE=1 the other ctest instruction runs, and its exit code is
    // forgiven.
    let ignored = run(&plan, tests, &[("COIN_CTEST_IGNORE_EXIT_CODE", "1")], ctest_fails);
    assert_eq!(ignored.verdict.outcome, Outcome::Passed);
    assert_eq!(ignored.commands().filter(|e| e.argv[0] == "ctest").count(), 1);

    // `ignoreExitCode` forgives an exit code, never a limit that ran out.
    let hangs = |action: &Action| match argv_is(action, "ctest") {
        true => Report::TimedOut(Timeout::Silence),
        false => Report::Done,
    };
    let hung = run(&plan, tests, &[("COIN_CTEST_IGNORE_EXIT_CODE", "1")], hangs);
    let Outcome::Failed(failure) = &hung.verdict.outcome else { panic!("{:?}", hung.verdict) };
    assert_eq!(failure.message, "printed nothing for 14400 s (maxTimeBetweenOutput)");
}

#[test]
fn a_system_error_is_never_the_changes_failure() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");
    let item = own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap();
    let mut actions = 0;
    let disk_full = |_: &Action| {
        actions += 1;
        if actions == 3 { Report::Error("no space left on device".into()) } else { Report::Done }
    };
    let run = run(&plan, item, &[], disk_full);
    let Outcome::Error(error) = &run.verdict.outcome else { panic!("{:?}", run.verdict) };
    assert_eq!(error.message, "no space left on device");
    // It stops at once: no `always` instruction, nothing after.
    assert_eq!(run.actions.len(), 3);
}
