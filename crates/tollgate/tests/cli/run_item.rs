//! `tollgate run-item` as a developer runs it to reproduce a work item.

use std::fs;
use std::process::Command;

use tempfile::TempDir;

use crate::support::*;

/// `tollgate run-item ARGS` with its own data folder.
fn run_item(data: &TempDir, sources: &str, args: &[&str]) -> Run {
    let data_dir = data.path().to_str().unwrap();
    let mut all = vec!["run-item", "--sources", sources, "--data-dir", data_dir];
    all.extend(args);
    tollgate(&all)
}

#[test]
fn a_work_item_runs_after_the_builds_it_needs_and_then_is_reused() {
    let data = tempfile::tempdir().unwrap();
    let examples = examples();
    let run = run_item(&data, path_str(&examples), &["demo/greeter:debian-12-tests:Test"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // The log comes out as it grows: the library's compiler, then the test's verdict.
    assert!(run.stdout.contains(" out gcc "), "{}", run.stdout);
    assert!(run.stdout.contains(" out PASS: greeter\n"), "{}", run.stdout);
    for item in [
        "demo/libgreet:debian-12:Build",
        "demo/greeter:debian-12:Build",
        "demo/greeter:debian-12-tests:Test",
    ] {
        assert!(run.stderr.contains(&format!("tollgate: {item} passed (log: ")), "{}", run.stderr);
    }

    let again = run_item(&data, path_str(&examples), &["demo/greeter:debian-12-tests:Test"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("tollgate: demo/greeter:debian-12-tests:Test reused"),
        "{}",
        again.stderr
    );
    assert!(!again.stdout.contains(" out "), "nothing runs the second time: {}", again.stdout);
}

#[test]
fn a_failing_work_item_exits_1_and_says_which_instruction_failed() {
    let sources = Sources::new();
    sources.copy("demo/libgreet", &examples().join("demo/libgreet"));
    sources.write("demo/libgreet/greet.c", "this is not C\n");
    let data = tempfile::tempdir().unwrap();
    let root = sources.root();
    let run = run_item(&data, path_str(&root), &["demo/libgreet:debian-12:Build"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(" err ") && run.stdout.contains("greet.c"), "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "demo/libgreet:debian-12:Build failed: demo/libgreet/coin/instructions/make_module_build_template.yaml:14:5: ExecuteCommand exited with code 2: Failed to build the module; the compiler output above says why."
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn without_bubblewrap_it_refuses_to_run_unless_told() {
    let data = tempfile::tempdir().unwrap();
    let examples = examples();
    let args = [
        "run-item",
        "demo/libgreet:debian-12:Build",
        "--sources",
        path_str(&examples),
        "--data-dir",
        data.path().to_str().unwrap(),
    ];
    // A PATH with the compiler and the shell tools, but no bwrap.
    let tools = tempfile::tempdir().unwrap();
    for tool in ["sh", "make", "gcc", "cc", "ar", "as", "ld", "cp", "mkdir", "install"] {
        if let Ok(path) = which(tool) {
            std::os::unix::fs::symlink(path, tools.path().join(tool)).unwrap();
        }
    }
    let without = |extra: &[&str]| {
        run(Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .args(extra)
            .env("PATH", tools.path()))
    };
    let refused = without(&[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("bubblewrap (`bwrap`) is not installed"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--no-sandbox"), "{}", refused.stderr);
    assert_eq!(refused.stdout, "");
    assert!(!data.path().join("work").exists(), "nothing ran");

    let unsandboxed = without(&["--no-sandbox"]);
    assert_eq!(unsandboxed.code, 0, "{}\n{}", unsandboxed.stdout, unsandboxed.stderr);
    assert!(unsandboxed.stderr.contains("warning: no sandbox"), "{}", unsandboxed.stderr);
    assert!(unsandboxed.stdout.contains("WARNING: no sandbox"), "{}", unsandboxed.stdout);
}

#[test]
fn a_kept_workspace_is_left_for_debugging() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let examples = examples();
    let work_dir = work.path().to_str().unwrap();
    let args = ["demo/libgreet:debian-12:Build", "--keep-workspace", "--work-dir", work_dir];
    let run = run_item(&data, path_str(&examples), &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let kept = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("tollgate: its workspace is kept in "))
        .unwrap();
    // Where --work-dir says.
    assert!(kept.starts_with(work_dir), "{kept}");
    // The build tree is there, as the agent left it.
    assert!(fs::metadata(format!("{kept}/work/demo/libgreet_build/libgreet.a")).is_ok(), "{kept}");
}

#[test]
fn a_work_item_that_is_not_in_the_plan_lists_those_that_are() {
    let data = tempfile::tempdir().unwrap();
    let examples = examples();
    let run = run_item(&data, path_str(&examples), &["demo/greeter:debian-13:Build"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no work item `demo/greeter:debian-13:Build` in the plan of demo/greeter")
    );
    assert!(run.stderr.contains("\n  demo/greeter:debian-12:Build\n"), "{}", run.stderr);
    let run = run_item(&data, path_str(&examples), &["greeter"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("expected PROJECT:CONFIGURATION:KIND"), "{}", run.stderr);
}

fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|p| p.exists()).ok_or(())
}

#[test]
fn relative_data_and_sources_folders_are_taken_from_the_current_folder() {
    let here = tempfile::tempdir().unwrap();
    copy_tree(&examples(), &here.path().join("examples"));
    let run = run(Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["run-item", "demo/libgreet:debian-12:Build"])
        .args(["--sources", "examples", "--data-dir", "data"])
        .current_dir(here.path()));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("demo/libgreet:debian-12:Build passed"), "{}", run.stderr);
    assert!(here.path().join("data/store").is_dir(), "the store is under ./data");
}
