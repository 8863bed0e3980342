//! The session's own rules, on small modules: each test is instructions, the machine's answers,
//! and the transcript an executor would see.

use std::collections::BTreeMap;
use std::fmt::Write;

use tollgate_core::plan::WorkKind;
use tollgate_core::run::{Action, Layout, Note, Outcome, Report, Session, Step};
use tollgate_core::source::MemorySource;

use crate::fixtures::plan_at;

/// Plans `demo/app` whose Build is `instructions` (indented as list items under `Build:`), on
/// one Debian configuration with `environment`, runs it, and prints one line per step.
fn transcript(
    environment: &str,
    instructions: &str,
    mut machine: impl FnMut(&Action) -> Report,
) -> String {
    let mut source = MemorySource::new();
    source.add(
        "demo/app",
        "coin/module_config.yaml",
        format!("version: 2\ninstructions:\n  Build:\n{instructions}"),
    );
    source.add(
        "demo/app",
        "coin/platform_configs/app.yaml",
        format!(
            "Version: 2\nConfigurations:\n- Id: debian\n  Template: qtci-linux-Debian-12-x86_64-1\n  Compiler: GCC\n  Environment variables: {environment}\n"
        ),
    );
    let plan = plan_at(&source, "demo/app", "1", None);
    let configuration = &plan.configurations[0];
    let Some(item) = configuration.work_items.iter().find(|i| i.id.kind == WorkKind::Build) else {
        return format!("no build: {:#?}", plan.diagnostics);
    };
    let env = BTreeMap::from([("PATH".to_owned(), "/bin".to_owned())]);
    let layout = Layout::new("/w", &item.module.project, 2);
    let mut session = Session::new(configuration, item, layout, env);
    let mut out = String::new();
    loop {
        let line = match session.step() {
            Step::Act { instruction, action } => {
                let report = machine(&action);
                session.finish(report.clone());
                let line = instruction.location.position.line;
                format!("{line}: {} -> {report:?}", show(&action))
            }
            Step::Note { instruction, note } => {
                let line = instruction.location.position.line;
                match note {
                    Note::Failed(failure) => format!("{line}: failed: {}", failure.message),
                    note => format!("{line}: {note:?}"),
                }
            }
            Step::Done(verdict) => {
                let outcome = match verdict.outcome {
                    Outcome::Failed(f) => format!("Failed: {f}"),
                    Outcome::Error(f) => format!("Error: {f}"),
                    other => format!("{other:?}"),
                };
                let _ = write!(out, "done: {outcome}");
                return out;
            }
        };
        let _ = writeln!(out, "{line}");
    }
}

/// Actions in one line; environments left out except where a test prints them.
fn show(action: &Action) -> String {
    match action {
        Action::Execute(e) => {
            let mut text = format!("run {:?} in {}", e.argv, e.cwd);
            if let Some(limit) = e.max_time {
                let _ = write!(text, " max {}s", limit.as_secs());
            }
            text
        }
        Action::ChangeDirectory { path } => format!("cd {path}"),
        Action::MakeDirectory { path } => format!("mkdir {path}"),
        Action::WriteFile { path, contents, mode } => format!("write {path} {contents:?} {mode:?}"),
        Action::EnvironmentFromScript { execute } => format!("source {:?}", execute.argv),
        Action::ParseEnvironmentFromFile { path, regex } => format!("parse {path} {regex}"),
        other => format!("{other:?}"),
    }
}

fn done(_: &Action) -> Report {
    Report::Done
}

#[test]
fn paths_are_resolved_against_the_current_directory() {
    let out = transcript(
        "[]",
        "
    - type: MakeDirectory
      directory: build
    - type: ChangeDirectory
      directory: build
    - type: SetBuildDirectory
      directory: ./out
    - type: WriteFile
      filename: '{{.BuildDir}}/x.sh'
      fileContents: 'echo {{.Env.PATH}}'
      fileMode: 493
    - type: ExecuteCommand
      command: sh x.sh
      maxTimeInSeconds: 10
    - type: ChangeDirectory
      directory: /missing
    - type: ExecuteCommand
      command: never
",
        |action| match action {
            Action::ChangeDirectory { path } if path == "/missing" => {
                Report::Failed("no such directory".into())
            }
            _ => Report::Done,
        },
    );
    insta::assert_snapshot!(out, @r#"
    5: mkdir /w/build -> Done
    7: cd /w/build -> Done
    9: Applied("build directory /w/build/out")
    11: write /w/build/out/x.sh "echo /bin" Some(493) -> Done
    15: run ["sh", "x.sh"] in /w/build max 10s -> Done
    18: cd /missing -> Failed("no such directory")
    20: SkippedAfterFailure
    done: Failed: demo/app/coin/module_config.yaml:18:7: ChangeDirectory no such directory
    "#);
}

#[test]
fn the_configuration_environment_comes_first_and_scripts_replace_it() {
    let out = transcript(
        "['CONFIG=a', 'BOTH={{.Env.CONFIG}}:{{.Env.PATH}}']",
        "
    - type: EnvironmentVariable
      variableName: SEEN
      variableValue: '{{.Env.BOTH}}'
    - type: SetEnvironmentFromScript
      command: [env.sh]
    - type: ParseEnvironmentVariableFromFile
      filename: .cmake.conf
      regex: 'set\\(QT_REPO_MODULE_VERSION \"(?P<QT_REPO_MODULE_VERSION>[0-9.]+)\"'
    - type: ExecuteCommand
      command: 'echo {{.Env.FROM_SCRIPT}} {{.Env.QT_REPO_MODULE_VERSION}} {{.Env.SEEN}}'
",
        |action| match action {
            Action::EnvironmentFromScript { .. } => {
                Report::Environment(BTreeMap::from([("FROM_SCRIPT".into(), "yes".into())]))
            }
            Action::ParseEnvironmentFromFile { .. } => Report::Environment(BTreeMap::from([(
                "QT_REPO_MODULE_VERSION".into(),
                "6.9.0".into(),
            )])),
            _ => Report::Done,
        },
    );
    // The script's environment replaces the old one: SEEN is gone.
    insta::assert_snapshot!(out, @r#"
    5: Applied("SEEN=a:/bin")
    8: source ["env.sh"] -> Environment({"FROM_SCRIPT": "yes"})
    10: parse /w/.cmake.conf set\(QT_REPO_MODULE_VERSION "(?P<QT_REPO_MODULE_VERSION>[0-9.]+)" -> Environment({"QT_REPO_MODULE_VERSION": "6.9.0"})
    13: run ["echo", "yes", "6.9.0"] in /w -> Done
    done: Passed
    "#);
}

#[test]
fn what_cannot_be_done_fails_with_its_place_and_reason() {
    let out = transcript(
        "[]",
        "
    - type: EnvironmentVariable
      variableName: T
      variableValue: soon
    - type: ExecuteCommand
      command: make
      maxTimeInSeconds: '{{.Env.T}}'
      userMessageOnFailure: >
        The build timed out.
    - type: ExecuteCommand
      command: ['{{.Env.UNSET}}']
      executeOn: always
    - type: ExecuteCommand
      command: '{{slice .Env.T 9}}'
      executeOn: always
    - type: Frobnicate
      executeOn: always
",
        done,
    );
    insta::assert_snapshot!(out, @r#"
    5: Applied("T=soon")
    8: failed: `maxTimeInSeconds` renders to `soon`, which is not a number of seconds
    13: failed: its program (the first argument) is empty once rendered
    16: failed: its command does not render: at character 2: slice index out of range: 9
    19: failed: cannot be performed: unknown instruction type `Frobnicate`
    done: Failed: demo/app/coin/module_config.yaml:8:7: ExecuteCommand `maxTimeInSeconds` renders to `soon`, which is not a number of seconds: The build timed out.
    "#);
}

#[test]
fn a_broken_configuration_environment_runs_nothing() {
    let out =
        transcript("['X={{.Env.PATH']", "    - type: ExecuteCommand\n      command: make\n", done);
    assert!(out.starts_with("done: Failed: demo/app/coin/platform_configs/app.yaml:3:3: platform configuration environment variable `X` does not render"), "{out}");
}

#[test]
fn cancelling_and_unreported_actions_end_the_run() {
    let two = "    - type: ExecuteCommand\n      command: a\n    - type: ExecuteCommand\n      command: b\n      executeOn: always\n";
    let out = transcript("[]", two, |_| Report::Cancelled);
    insta::assert_snapshot!(out, @r#"
    4: run ["a"] in /w -> Cancelled
    done: Cancelled
    "#);

    // An executor that asks for the next step without reporting is the system's fault.
    let mut source = MemorySource::new();
    source.add(
        "demo/app",
        "coin/module_config.yaml",
        format!("version: 2\ninstructions:\n  Build:\n{two}"),
    );
    source.add(
        "demo/app",
        "coin/platform_configs/app.yaml",
        "- Template: qtci-linux-Debian-12-x86_64-1\n  Compiler: GCC\n",
    );
    let plan = plan_at(&source, "demo/app", "1", None);
    let configuration = &plan.configurations[0];
    let item = &configuration.work_items[0];
    let layout = Layout::new("/w", &item.module.project, 2);
    let mut session = Session::new(configuration, item, layout, BTreeMap::new());
    assert!(matches!(session.step(), Step::Act { .. }));
    let Step::Done(verdict) = session.step() else { panic!("the run goes on") };
    let Outcome::Error(error) = verdict.outcome else { panic!("{verdict:?}") };
    assert_eq!(error.message, "was never reported on by the executor");
    // Done stays done.
    assert!(matches!(session.step(), Step::Done(_)));
}
