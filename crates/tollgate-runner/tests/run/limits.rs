//! Timeouts, exit codes, `executeOn: always`, cancellation, and the log's shape and cap.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tollgate_core::run::Outcome;

use crate::harness::*;

#[tokio::test]
async fn max_time_in_seconds_stops_a_command() {
    let h = Harness::new().await;
    h.app(&[], "    - type: ExecuteCommand\n      command: sleep 600\n      maxTimeInSeconds: 1\n");
    let run = h.build().await;
    assert!(
        run.failure().ends_with("ExecuteCommand ran longer than 1 s (maxTimeInSeconds)"),
        "{}",
        run.failure()
    );
}

#[tokio::test]
async fn max_time_between_output_stops_a_silent_command_only() {
    let h = Harness::new().await;
    h.app(
        &[],
        r#"
    - type: ExecuteCommand
      command: ["sh", "-c", "for i in 1 2 3 4; do echo $i; sleep 0.4; done"]
      maxTimeBetweenOutput: 1
    - type: ExecuteCommand
      command: ["sh", "-c", "echo started; sleep 600"]
      maxTimeBetweenOutput: 1
"#,
    );
    let run = h.build().await;
    // The first prints often enough; the second goes quiet.
    assert_eq!(run.out(), ["1", "2", "3", "4", "started"]);
    assert!(
        run.failure().ends_with("printed nothing for 1 s (maxTimeBetweenOutput)"),
        "{}",
        run.failure()
    );
}

#[tokio::test]
async fn exit_codes_fail_unless_ignored() {
    let h = Harness::new().await;
    h.app(
        &[],
        r#"
    - type: ExecuteCommand
      command: ["sh", "-c", "exit 3"]
      ignoreExitCode: true
    - type: ExecuteCommand
      command: ["sh", "-c", "echo still here; exit 4"]
      userMessageOnFailure: >
        Failed to build sources.
"#,
    );
    let run = h.build().await;
    assert_eq!(run.out(), ["still here"]);
    assert!(
        run.failure().ends_with("ExecuteCommand exited with code 4: Failed to build sources."),
        "{}",
        run.failure()
    );
}

#[tokio::test]
async fn after_a_failure_only_execute_on_always_runs() {
    let h = Harness::new().await;
    h.app(
        &[],
        r#"
    - type: ExecuteCommand
      command: "false"
    - type: ExecuteCommand
      command: echo skipped
    - type: Group
      instructions:
        - type: ExecuteCommand
          command: echo always
          executeOn: always
"#,
    );
    let run = h.build().await;
    assert_eq!(run.out(), ["always"]);
    assert!(run.failure().contains("exited with code 1"));
}

/// Processes whose command line holds `tag`, by pid, looked up in /proc.
fn processes_with(tag: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(tag) {
            found.push(pid);
        }
    }
    found
}

/// Waits until `done` holds, checking every 20 ms, for at most `limit`; whether it held.
async fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut checks = tokio::time::interval(Duration::from_millis(20));
    loop {
        checks.tick().await;
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
    }
}

/// Runs `demo/app`'s Build, waits until `running` processes carry `tag`, cancels, and returns
/// the run and the processes with `tag` still there a second later.
async fn cancel_when_running(h: &Harness, tag: &str, running: usize) -> (Run, Vec<u32>) {
    let plan = h.plan(APP);
    let cancel = CancellationToken::new();
    let run = h.run_with(&plan, "demo/app:linux:Build", &cancel);
    let watch = async {
        let started = within(Duration::from_secs(30), || processes_with(tag).len() >= running);
        assert!(started.await, "the processes with {tag} never ran");
        cancel.cancel();
        // Everything must be gone within one second.
        within(Duration::from_secs(1), || processes_with(tag).is_empty()).await;
        processes_with(tag)
    };
    tokio::join!(run, watch)
}

#[tokio::test]
async fn cancelling_kills_the_whole_tree_in_the_sandbox() {
    // Grandchildren, one in a new session (out of the process group): the PID namespace ends
    // with the command, and all of them with it.
    let h = Harness::new().await;
    let tag = "1000.101";
    let command = format!(
        "[\"sh\", \"-c\", \"sleep {tag} & setsid sleep {tag} & echo running; sleep {tag}\"]"
    );
    h.app(&[], &format!("    - type: ExecuteCommand\n      command: {command}\n"));
    let (run, left) = cancel_when_running(&h, tag, 3).await;
    assert_eq!(left, Vec::<u32>::new(), "processes left after the cancellation");
    assert_eq!(run.finished.outcome, Outcome::Cancelled, "{}", run.log);
}

#[tokio::test]
async fn cancelling_kills_the_process_group_without_a_sandbox() {
    // Without the sandbox only the process group can be killed (`setsid` would leave it); what
    // stays in the group must go.
    let h = Harness::unsandboxed();
    let tag = "1000.202";
    let command = format!("[\"sh\", \"-c\", \"sleep {tag} & sleep {tag}\"]");
    h.app(&[], &format!("    - type: ExecuteCommand\n      command: {command}\n"));
    let (run, left) = cancel_when_running(&h, tag, 2).await;
    assert_eq!(left, Vec::<u32>::new(), "processes left after the cancellation");
    assert_eq!(run.finished.outcome, Outcome::Cancelled, "{}", run.log);
}

#[tokio::test]
async fn every_log_line_has_a_time_and_a_stream() {
    let h = Harness::new().await;
    h.app(&[], "    - type: ExecuteCommand\n      command: [\"sh\", \"-c\", \"echo to out; echo to err >&2\"]\n");
    let run = h.build().await;
    run.assert_passed();
    let shape =
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (out|err|sys) ").unwrap();
    for line in run.log.lines() {
        assert!(shape.is_match(line), "{line:?}");
    }
    assert!(run.log.contains(" out to out\n") && run.log.contains(" err to err\n"), "{}", run.log);
    // The runner's own lines: the instruction with its place, its end with exit status and time.
    assert!(
        run.log.contains(" sys ExecuteCommand sh -c echo to out; echo to err >&2 (demo/app/coin/module_config.yaml:4:7)\n"),
        "{}",
        run.log
    );
    assert!(regex::Regex::new(r" sys done after \d+\.\d{3} s\n").unwrap().is_match(&run.log));
    assert!(run.log.ends_with(" sys demo/app:linux:Build passed\n"), "{}", run.log);
}

#[tokio::test]
async fn a_runaway_log_is_cut_at_its_cap() {
    let mut h = Harness::new().await;
    h.options.log_cap = 16 * 1024;
    h.app(&[], "    - type: ExecuteCommand\n      command: [\"sh\", \"-c\", \"seq 1 100000\"]\n");
    let run = h.build().await;
    run.assert_passed();
    let size = std::fs::metadata(run.finished.log.as_deref().unwrap()).unwrap().len();
    assert!(size <= 16 * 1024, "{size}");
    assert!(
        run.log.contains("the log reached its limit of 16384 bytes; further output is dropped")
    );
    assert!(!run.log.contains(" out 100000\n"));
    // Only one note, however much more there was.
    assert_eq!(run.log.matches("reached its limit").count(), 1);
}

#[tokio::test]
async fn the_log_is_stored_with_the_result() {
    let h = Harness::new().await;
    h.app(&[], "    - type: ExecuteCommand\n      command: echo stored\n");
    let run = h.build().await;
    let digest = run.finished.record.as_ref().unwrap().log.unwrap();
    let copy = h.dir.path().join("log-copy");
    assert!(tollgate_store::Store::fetch(&*h.store, &digest, &copy).unwrap());
    assert_eq!(read(&copy), run.log);
    // The workspace is gone.
    assert_eq!(std::fs::read_dir(&h.options.work_root).unwrap().count(), 0);
}
