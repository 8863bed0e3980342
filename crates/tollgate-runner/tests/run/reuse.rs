//! A work item whose build key has a passed result is not run again.

use std::fs;

use tollgate_core::run::Outcome;

use crate::harness::*;

/// A Build that appends a line to a file outside its workspace (a folder the sandbox lets it
/// write), so that every real run leaves a trace, and exits with `status`.
fn counting(h: &mut Harness, status: i32) -> std::path::PathBuf {
    let outside = h.outside();
    h.options.writable = vec![outside.clone()];
    let runs = outside.join("runs");
    h.app(
        &[],
        &format!(
            "    - type: ExecuteCommand\n      command: [\"sh\", \"-c\", \"echo ran >> {}; exit {status}\"]\n",
            runs.display()
        ),
    );
    runs
}

#[tokio::test]
async fn a_passed_result_is_reused_and_nothing_runs() {
    let mut h = Harness::new().await;
    let runs = counting(&mut h, 0);
    let first = h.build().await;
    first.assert_passed();
    assert!(!first.finished.reused);
    assert_eq!(fs::read_to_string(&runs).unwrap(), "ran\n");

    let second = h.build().await;
    second.assert_passed();
    assert!(second.finished.reused);
    assert_eq!(second.finished.record, first.finished.record);
    assert!(
        second.live.starts_with("reused the passed result of demo/app:linux:Build"),
        "{}",
        second.live
    );
    // No command ran the second time.
    assert_eq!(fs::read_to_string(&runs).unwrap(), "ran\n");
}

#[tokio::test]
async fn a_failed_result_is_not_reused() {
    let mut h = Harness::new().await;
    let runs = counting(&mut h, 1);
    assert!(h.build().await.failure().contains("exited with code 1"));
    let second = h.build().await;
    assert!(!second.finished.reused);
    assert!(matches!(second.finished.outcome, Outcome::Failed(_)));
    assert_eq!(fs::read_to_string(&runs).unwrap(), "ran\nran\n");
}

#[tokio::test]
async fn a_system_error_is_not_recorded() {
    let mut h = Harness::new().await;
    h.app(&[], "    - type: ExecuteCommand\n      command: [\"true\"]\n");
    // The workspaces cannot be made: a file stands where their folder should be.
    fs::create_dir_all(h.dir.path().join("data")).unwrap();
    fs::write(h.dir.path().join("data/blocked"), "").unwrap();
    h.options.work_root = h.dir.path().join("data/blocked");
    let run = h.build().await;
    assert!(run.error().contains("cannot create a workspace"), "{}", run.error());
    assert_eq!(run.finished.record, None);
    let plan = h.plan(APP);
    let key = work_item(&plan, "demo/app:linux:Build").build_key;
    assert_eq!(tollgate_store::Store::record(&*h.store, &key).unwrap(), None);
}

#[tokio::test]
async fn a_changed_instruction_runs_again() {
    let mut h = Harness::new().await;
    let runs = counting(&mut h, 0);
    h.build().await.assert_passed();
    // Same command, one more instruction: another build key.
    let module = h.sources().join(APP).join("coin/module_config.yaml");
    let mut text = fs::read_to_string(&module).unwrap();
    text.push_str("    - type: ExecuteCommand\n      command: [\"true\"]\n");
    fs::write(&module, text).unwrap();
    let run = h.build().await;
    run.assert_passed();
    assert!(!run.finished.reused);
    assert_eq!(fs::read_to_string(&runs).unwrap(), "ran\nran\n");
}
