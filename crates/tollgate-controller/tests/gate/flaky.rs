//! Coin's rule for flaky tests: a significant Test work item that failed runs again on fresh
//! machines, and its failure is forgiven, as a flake of its tests on its configuration, only
//! if every re-run passes. The app's test fails on the runs its `flaky-test` file names
//! (counted in a folder every sandbox may write).

use tollgate_api::{ChangeState, EventView, TestHistory, WorkItemState};
use tollgate_state::Cursor;

use crate::support::{Gate, Setup, within};

async fn events(gate: &Gate, kind: &str) -> Vec<EventView> {
    let db = gate.controller().db();
    let all = db.events(None, Cursor::After(0), 1000).await.unwrap().items;
    all.into_iter().filter(|event| event.kind == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_that_fails_once_merges_after_its_reruns_and_is_recorded_as_a_flake() {
    let gate = Gate::start(Setup::default()).await;
    let commit = gate.commit("demo/app", "origin/main", &[("flaky-test", "1\n")], "Flaky");
    let ended = gate.ended(&gate.stage(&[&commit]).await).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    assert_eq!(gate.runs("test-runs"), 6, "the failed run and Coin's 5 re-runs");
    let reruns = events(&gate, "work_item_rerun").await;
    let numbers: Vec<_> = reruns.iter().map(|e| e.detail["rerun"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    assert!(reruns.iter().all(|e| e.work_item.as_deref() == Some("demo/app:linux:Test")));
    let flakes = events(&gate, "flaky").await;
    assert_eq!(flakes.len(), 1);
    assert_eq!(flakes[0].detail["configuration"], "linux");
    assert_eq!(flakes[0].detail["tests"], serde_json::json!(["app_test"]));
    assert_eq!(flakes[0].detail["failure"]["message"], "exited with code 4");
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    let test = integration.work_items.iter().find(|w| w.id == "demo/app:linux:Test").unwrap();
    assert_eq!(test.state, WorkItemState::Passed);
    assert_eq!(gate.tip("demo/app"), integration.commit.unwrap());

    // The history of its tests: app_test failed once in six runs, and was forgiven once.
    let history: Vec<TestHistory> =
        reqwest::get(gate.url("/api/tests?project=demo/app")).await.unwrap().json().await.unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    let app_test = &history[0];
    assert_eq!((app_test.test.as_str(), app_test.configuration.as_str()), ("app_test", "linux"));
    assert_eq!(app_test.work_item, "demo/app:linux:Test");
    assert_eq!((app_test.runs, app_test.failures, app_test.flakes), (6, 1, 1));
    assert!((app_test.failure_rate - 1.0 / 6.0).abs() < 1e-9, "{app_test:?}");
    let unknown = reqwest::get(gate.url("/api/tests?project=demo/none")).await.unwrap();
    assert_eq!(unknown.status(), 404);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_that_fails_one_of_its_reruns_rejects_and_a_failed_build_is_not_run_again() {
    let gate = Gate::start(Setup::default()).await;
    let commit = gate.commit("demo/app", "origin/main", &[("flaky-test", "1 3\n")], "Fails twice");
    let ended = gate.ended(&gate.stage(&[&commit]).await).await;
    assert_eq!(ended[0].state, ChangeState::Rejected);
    assert_eq!(gate.runs("test-runs"), 3, "the first run, a passing re-run, the failing one");
    assert!(events(&gate, "flaky").await.is_empty());
    let rejection = serde_json::to_value(ended[0].rejection.as_ref().unwrap()).unwrap();
    assert_eq!(rejection["failures"][0]["work_item"], "demo/app:linux:Test");
    // The rejection names the failed test, with its record: it failed before, in this very
    // integration's first run.
    let test = &rejection["failures"][0]["tests"][0];
    assert_eq!(test["name"], "app_test");
    assert_eq!(test["message"], "expected 2, got 3");
    assert_eq!(test["history"], serde_json::json!({"runs": 3, "failures": 2, "flakes": 0}));
    assert_eq!(events(&gate, "work_item_rerun").await.len(), 2);
    let history: Vec<TestHistory> =
        reqwest::get(gate.url("/api/tests?project=demo/app")).await.unwrap().json().await.unwrap();
    assert_eq!((history[0].runs, history[0].failures, history[0].flakes), (3, 2, 0));

    let broken = gate.commit("demo/app", "origin/main", &[("break-build", "")], "Breaks the build");
    let ended = gate.ended(&gate.stage(&[&broken]).await).await;
    assert_eq!(ended[0].state, ChangeState::Rejected);
    assert_eq!(events(&gate, "work_item_rerun").await.len(), 2, "no build is run again");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_reruns_off_a_failed_test_rejects_at_once() {
    let gate = Gate::start(Setup { flaky_reruns: Some(0), ..Setup::default() }).await;
    let commit = gate.commit("demo/app", "origin/main", &[("flaky-test", "1\n")], "Flaky");
    let ended = gate.ended(&gate.stage(&[&commit]).await).await;
    assert_eq!(ended[0].state, ChangeState::Rejected);
    assert_eq!(gate.runs("test-runs"), 1);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_the_reruns_takes_them_up_where_they_were() {
    let mut gate = Gate::start(Setup::default()).await;
    let files = [("flaky-test", "1\n"), ("hold-test", "")];
    let commit = gate.commit("demo/app", "origin/main", &files, "Flaky and held");
    let staged = gate.stage(&[&commit]).await;
    gate.go_test();
    let db = gate.controller().db().clone();
    let integration =
        within(|| async { db.change(staged[0].id).await.unwrap().unwrap().integration }).await;
    within(|| async { (events(&gate, "work_item_rerun").await.len() == 1).then_some(()) }).await;
    gate.running(integration, "demo/app:linux:Test").await;
    gate.restart().await;
    // Five runs are left; the stopped service's held run may still take a line on its way
    // out, so one more is given (a line left over changes nothing).
    for _ in 0..6 {
        gate.go_test();
    }
    let ended = gate.ended(&staged).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    assert_eq!(ended[0].integration, Some(integration), "resumed, not formed again");
    let reruns = events(&gate, "work_item_rerun").await;
    let numbers: Vec<_> = reruns.iter().map(|e| e.detail["rerun"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5], "the interrupted re-run ran again, as re-run 1");
    let runs = gate.runs("test-runs");
    assert!((6..=7).contains(&runs), "the failed run, 5 re-runs (and the stopped one): {runs}");
    let flakes = events(&gate, "flaky").await;
    assert_eq!(flakes.len(), 1);
    assert_eq!(flakes[0].detail["tests"], serde_json::json!(["app_test"]));
    gate.stop().await;
}
