//! Culprit finding: a batch of several changes that fails is bisected (bors-ng's rule). Only
//! the change that fails on the ones ahead of it is rejected; the others merge, and a build key
//! that ran once, passed or failed, is not run again.

use std::collections::HashMap;

use tollgate_api::ChangeState;
use tollgate_state::Cursor;

use crate::support::{Gate, Setup, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_eight_with_one_culprit_merges_seven_in_at_most_seven_integrations() {
    let gate = Gate::start(Setup::default()).await;
    let culprit = 5;
    let commits: Vec<String> = (0..8)
        .map(|n| {
            let file = format!("change-{n}");
            let mut files = vec![(file.as_str(), "x\n")];
            if n == culprit {
                files.push(("break-build", ""));
            }
            gate.commit("demo/app", "origin/main", &files, &format!("Change {n}"))
        })
        .collect();
    let refs: Vec<&str> = commits.iter().map(String::as_str).collect();
    let staged = gate.stage(&refs).await;
    let ended = gate.ended(&staged).await;
    let states: Vec<ChangeState> = ended.iter().map(|c| c.state).collect();
    let mut expected = vec![ChangeState::Merged; 8];
    expected[culprit] = ChangeState::Rejected;
    assert_eq!(states, expected);
    let rejection = serde_json::to_value(ended[culprit].rejection.as_ref().unwrap()).unwrap();
    assert_eq!(rejection["failures"][0]["work_item"], "demo/app:linux:Build", "{rejection}");

    // Every good change is on the branch.
    let tip = gate.tip("demo/app");
    let work = gate.work("demo/app");
    crate::support::git(&work, &["fetch", "-q", "origin"]);
    let files = crate::support::git_out(&work, &["ls-tree", "--name-only", &tip]);
    for n in (0..8).filter(|n| *n != culprit) {
        assert!(files.lines().any(|f| f == format!("change-{n}")), "change-{n} in {files}");
    }
    assert!(!files.lines().any(|f| f == "break-build"));

    // At most 1 + 2·log2(8) integrations, each bisection step in the decision log.
    let db = gate.controller().db();
    let integrations: Vec<i64> = {
        let mut ids: Vec<i64> = ended.iter().filter_map(|c| c.integration).collect();
        let events = db.events(None, Cursor::After(0), 2000).await.unwrap().items;
        ids.extend(
            events.iter().filter(|e| e.kind == "integration_started").filter_map(|e| e.integration),
        );
        ids.sort();
        ids.dedup();
        ids
    };
    assert!(integrations.len() <= 7, "{} integrations: {integrations:?}", integrations.len());
    let events = db.events(None, Cursor::After(0), 2000).await.unwrap().items;
    let bisects: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "gate_decided" && e.detail["decision"] == "bisect")
        .collect();
    assert!(!bisects.is_empty());
    assert_eq!(bisects[0].detail["changes"].as_array().unwrap().len(), 8);
    assert_eq!(bisects[0].detail["next"], 4);

    // No build key ran twice: a key's runs, over every integration, are at most one.
    let mut runs: HashMap<String, u32> = HashMap::new();
    for id in &integrations {
        for item in gate.integration(*id).await.work_items {
            *runs.entry(item.build_key.clone()).or_default() += item.attempts;
        }
    }
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "build keys run more than once: {twice:?}");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_a_bisection_takes_it_up_where_it_was_and_pushes_each_merge_once() {
    let mut gate = Gate::start(Setup::default()).await;
    // Every Test holds (the first change brings `hold-test`); the third breaks the build.
    let files: [&[(&str, &str)]; 4] = [
        &[("change-0", "x\n"), ("hold-test", "")],
        &[("change-1", "x\n")],
        &[("change-2", "x\n"), ("break-build", "")],
        &[("change-3", "x\n")],
    ];
    let commits: Vec<String> = files
        .iter()
        .enumerate()
        .map(|(n, files)| gate.commit("demo/app", "origin/main", files, &format!("Change {n}")))
        .collect();
    let refs: Vec<&str> = commits.iter().map(String::as_str).collect();
    let staged = gate.stage(&refs).await;
    // The batch failed its build and was split; the first half's Test holds.
    let db = gate.controller().db().clone();
    let half = within(|| async {
        let events = db.events(None, Cursor::After(0), 500).await.unwrap().items;
        let started: Vec<i64> = events
            .iter()
            .filter(|e| e.kind == "integration_started")
            .filter_map(|e| e.integration)
            .collect();
        started.get(1).copied()
    })
    .await;
    gate.running(half, "demo/app:linux:Test").await;
    gate.restart().await;
    for _ in 0..4 {
        gate.go_test();
    }
    let ended = gate.ended(&staged).await;
    let states: Vec<ChangeState> = ended.iter().map(|c| c.state).collect();
    let (merged, rejected) = (ChangeState::Merged, ChangeState::Rejected);
    assert_eq!(states, [merged, merged, rejected, merged]);
    assert_eq!(ended[0].integration, Some(half), "the half that held was resumed");
    assert_eq!(ended[1].integration, Some(half));
    let db = gate.controller().db();
    let events = db.events(None, Cursor::After(0), 2000).await.unwrap().items;
    let pushed: Vec<i64> =
        events.iter().filter(|e| e.kind == "pushed").filter_map(|e| e.integration).collect();
    assert_eq!(pushed.len(), 2, "two merges, each pushed once: {pushed:?}");
    assert_eq!(gate.moves("demo/app"), 2);
    gate.stop().await;
}
