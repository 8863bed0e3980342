use tollgate_api::{ChangeState, IntegrationState, Rejection, WorkItemState};
use tollgate_state::Cursor;

use crate::support::{Gate, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_change_is_merged_and_the_branch_moves_exactly_to_the_integration_commit() {
    let gate = Gate::start(Setup::default()).await;
    let change = gate.commit(
        "demo/app",
        "origin/main",
        &[("app.txt", "one\ntwo\nthree\nfour\n")],
        "Add four",
    );
    let staged = gate.stage(&[&change]).await;
    assert_eq!(staged[0].state, ChangeState::Staged);
    let ended = gate.ended(&staged).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    assert_eq!(integration.state, IntegrationState::Merged);
    // Based on the tip: a fast-forward, so the branch is the change itself.
    assert_eq!(integration.commit.as_deref(), Some(change.as_str()));
    assert_eq!(gate.tip("demo/app"), change);
    let states: Vec<_> = integration.work_items.iter().map(|w| (w.id.as_str(), w.state)).collect();
    assert!(states.iter().all(|(_, s)| *s == WorkItemState::Passed), "{states:?}");
    assert_eq!(gate.runs("lib-builds"), 1, "{states:?}");
    assert_eq!(gate.runs("app-builds"), 1);
    // Staged again once merged: the same change, still merged, and nothing integrates.
    let again = gate.stage(&[&change]).await;
    assert_eq!((again[0].id, again[0].state), (staged[0].id, ChangeState::Merged));
    let db = gate.controller().db();
    let staging = db.changes("demo/app", "main", ChangeState::Staged).await.unwrap();
    assert!(staging.is_empty(), "{staging:?}");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_change_is_rejected_with_the_reason_and_the_branch_stays() {
    let gate = Gate::start(Setup::default()).await;
    let before = gate.tip("demo/app");
    let change = gate.commit("demo/app", "origin/main", &[("break-build", "")], "Break the build");
    let ended = gate.ended(&gate.stage(&[&change]).await).await;
    assert_eq!(ended[0].state, ChangeState::Rejected);
    let Some(Rejection::Failed { failures, batch }) = &ended[0].rejection else {
        panic!("{:?}", ended[0].rejection)
    };
    assert_eq!(batch, &[ended[0].id], "rejected for its own failure: it was alone");
    assert_eq!(failures.len(), 1);
    let failure = &failures[0];
    assert_eq!(failure.work_item, "demo/app:linux:Build");
    assert_eq!(failure.configuration, "linux");
    assert!(
        failure.location.starts_with("demo/app/coin/module_config.yaml:"),
        "{}",
        failure.location
    );
    assert_eq!(failure.instruction, "ExecuteCommand");
    assert_eq!(
        failure.excerpt,
        ["app.c:1: error: broken"],
        "the compiler's line, with the verdict"
    );
    assert!(failure.message.contains("exited with code 3"), "{}", failure.message);
    assert_eq!(
        failure.user_message.as_deref(),
        Some("The build failed; the compiler output above says why.")
    );
    assert!(
        failure.log.as_deref().unwrap().starts_with("/api/log?integration="),
        "{:?}",
        failure.log
    );
    assert_eq!(gate.tip("demo/app"), before);
    assert_eq!(gate.moves("demo/app"), 0);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_batch_of_three_the_conflicting_change_is_rejected_alone_and_the_others_merge() {
    let gate = Gate::start(Setup::default()).await;
    let a = gate.commit("demo/app", "origin/main", &[("app.txt", "one\nTWO by a\nthree\n")], "A");
    let b = gate.commit("demo/app", "origin/main", &[("app.txt", "one\nTWO by b\nthree\n")], "B");
    let c = gate.commit("demo/app", "origin/main", &[("notes.txt", "c\n")], "C");
    let ended = gate.ended(&gate.stage(&[&a, &b, &c]).await).await;
    let states: Vec<_> = ended.iter().map(|c| c.state).collect();
    assert_eq!(states, [ChangeState::Merged, ChangeState::Rejected, ChangeState::Merged]);
    assert_eq!(ended[1].rejection, Some(Rejection::Conflict { paths: vec!["app.txt".into()] }));
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    let tip = gate.tip("demo/app");
    assert_eq!(integration.commit.as_deref(), Some(tip.as_str()));
    // The branch has A and C, not B.
    for (commit, merged) in [(&a, true), (&b, false), (&c, true)] {
        let contained =
            crate::support::git_out(&gate.remote("demo/app"), &["branch", "--contains", commit]);
        assert_eq!(contained.contains("main"), merged, "{commit}");
    }
    assert_eq!(gate.moves("demo/app"), 1);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_failing_test_is_insignificant_still_merges() {
    let gate = Gate::start(Setup { features: "'InsignificantTests'", ..Setup::default() }).await;
    let change = gate.commit("demo/app", "origin/main", &[("break-test", "")], "Break a test");
    let ended = gate.ended(&gate.stage(&[&change]).await).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    let test = integration.work_items.iter().find(|w| w.id == "demo/app:linux:Test").unwrap();
    assert_eq!(test.state, WorkItemState::Failed);
    assert!(!test.significant);
    assert_eq!(gate.tip("demo/app"), change);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_unrelated_merge_unchanged_modules_are_reused_without_running_anything() {
    let gate = Gate::start(Setup::default()).await;
    let first = gate.commit("demo/app", "origin/main", &[("one.txt", "1\n")], "First");
    let ended = gate.ended(&gate.stage(&[&first]).await).await;
    assert_eq!(ended[0].state, ChangeState::Merged);
    assert_eq!((gate.runs("lib-builds"), gate.runs("app-builds")), (1, 1));
    let second = gate.commit("demo/app", "origin/main", &[("two.txt", "2\n")], "Second");
    let ended = gate.ended(&gate.stage(&[&second]).await).await;
    assert_eq!(ended[0].state, ChangeState::Merged);
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    let lib = integration.work_items.iter().find(|w| w.id == "demo/lib:linux:Build").unwrap();
    assert_eq!(lib.state, WorkItemState::Reused);
    assert_eq!(lib.attempts, 0, "nothing ran for the library");
    assert_eq!(gate.runs("lib-builds"), 1, "the library's build did not run again");
    assert_eq!(gate.runs("app-builds"), 2, "the changed module was built again");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_branch_moves_during_an_integration_it_is_integrated_again_never_forced() {
    let gate = Gate::start(Setup::default()).await;
    let change = gate.commit("demo/app", "origin/main", &[("hold", ""), ("x.txt", "x\n")], "Held");
    let staged = gate.stage(&[&change]).await;
    let first = crate::support::within(|| async {
        gate.controller().db().change(staged[0].id).await.unwrap().unwrap().integration
    })
    .await;
    gate.running(first, "demo/app:linux:Build").await;
    // Someone pushes straight to the branch meanwhile.
    let direct = gate.commit("demo/app", "origin/main", &[("y.txt", "y\n")], "Direct");
    crate::support::git(
        &gate.work("demo/app"),
        &["push", "-q", "origin", &format!("{direct}:refs/heads/main")],
    );
    gate.go();
    let ended = gate.ended(&staged).await;
    assert_eq!(ended[0].state, ChangeState::Merged);
    assert_eq!(gate.integration(first).await.state, IntegrationState::Superseded);
    let second = gate.integration(ended[0].integration.unwrap()).await;
    assert_ne!(second.id, first);
    assert_eq!(second.base, direct);
    assert_eq!(second.state, IntegrationState::Merged);
    let tip = gate.tip("demo/app");
    assert_eq!(second.commit.as_deref(), Some(tip.as_str()));
    // The direct push is kept: the branch moved forward only.
    let base = crate::support::git_out(&gate.remote("demo/app"), &["merge-base", &direct, &tip]);
    assert_eq!(base.trim(), direct);
    assert_eq!(gate.moves("demo/app"), 2, "the direct push and the integration");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_configuration_rejects_the_change_with_the_diagnostics() {
    let gate = Gate::start(Setup::default()).await;
    let change = gate.commit(
        "demo/app",
        "origin/main",
        &[("coin/module_config.yaml", "version: 2\ninstructions:\n  Build: [\n")],
        "Break the YAML",
    );
    let ended = gate.ended(&gate.stage(&[&change]).await).await;
    assert_eq!(ended[0].state, ChangeState::Rejected);
    let Some(Rejection::Configuration { diagnostics }) = &ended[0].rejection else {
        panic!("{:?}", ended[0].rejection)
    };
    assert!(diagnostics[0].starts_with("demo/app/coin/module_config.yaml:"), "{diagnostics:?}");
    assert_eq!(gate.moves("demo/app"), 0);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_a_commit_that_does_not_exist_is_refused_and_stages_nothing() {
    let gate = Gate::start(Setup::default()).await;
    let good = gate.commit("demo/app", "origin/main", &[("z.txt", "z\n")], "Good");
    let request = tollgate_api::StageRequest {
        project: "demo/app".into(),
        branch: "main".into(),
        changes: vec![good.clone(), "0123456789abcdef0123456789abcdef01234567".into()],
    };
    let error = gate.controller().stage(&request).await.unwrap_err();
    assert!(error.to_string().contains("0123456789abcdef0123456789abcdef01234567"), "{error}");
    let queue =
        gate.controller().db().changes("demo/app", "main", ChangeState::Staged).await.unwrap();
    assert!(queue.is_empty());
    // Staging twice is idempotent.
    let once = gate.stage(&[&good]).await;
    let twice = gate.stage(&[&good]).await;
    assert_eq!(once[0].id, twice[0].id);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_service_on_the_same_data_directory_is_refused() {
    let gate = Gate::start(Setup::default()).await;
    let Err(error) = tollgate_controller::Service::start(gate.config.clone()).await else {
        panic!("a second service started on the same data directory");
    };
    let message = error.to_string();
    assert!(message.contains("another tollgate serve is running"), "{message}");
    assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_integration_puts_its_changes_back_and_unstage_removes_one() {
    let gate = Gate::start(Setup::default()).await;
    let held = gate.commit("demo/app", "origin/main", &[("hold", "")], "Held");
    let staged = gate.stage(&[&held]).await;
    let first = crate::support::within(|| async {
        gate.controller().db().change(staged[0].id).await.unwrap().unwrap().integration
    })
    .await;
    gate.running(first, "demo/app:linux:Build").await;
    let cancelled = gate.controller().cancel(first).await.unwrap();
    assert_eq!(cancelled.state, IntegrationState::Cancelled);
    // Back to staged, and integrated again at once; this time it is taken back.
    let db = gate.controller().db();
    let second = crate::support::within(|| async {
        let change = db.change(staged[0].id).await.unwrap().unwrap();
        change.integration.filter(|id| *id != first)
    })
    .await;
    let error = gate.controller().unstage("demo/app", "main", &held[..10]).await.unwrap_err();
    assert!(error.to_string().contains(&format!("tollgate cancel {second}")), "{error}");
    gate.controller().cancel(second).await.unwrap();
    let unstaged = gate.controller().unstage("demo/app", "main", &held[..10]).await.unwrap();
    assert_eq!(unstaged.state, ChangeState::Unstaged);
    let items = gate.integration(first).await.work_items;
    let build = items.iter().find(|w| w.id == "demo/app:linux:Build").unwrap();
    assert_eq!(build.state, WorkItemState::Cancelled);
    assert_eq!(gate.moves("demo/app"), 0);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_pushed_to_a_staging_ref_is_staged_once_and_merged() {
    let poll = Some(std::time::Duration::from_millis(100));
    let gate = Gate::start(Setup { poll, ..Setup::default() }).await;
    let change = gate.commit("demo/app", "origin/main", &[("w.txt", "w\n")], "Watched");
    let refspec = format!("{change}:refs/staging/main/watched");
    crate::support::git(&gate.work("demo/app"), &["push", "-q", "origin", &refspec]);
    let db = gate.controller().db();
    let staged = crate::support::within(|| async {
        let merged = db.changes("demo/app", "main", ChangeState::Merged).await.unwrap();
        merged.into_iter().next()
    })
    .await;
    assert_eq!(staged.commit, change);
    assert_eq!(staged.origin, "refs/staging/main/watched");
    assert_eq!(gate.tip("demo/app"), change);
    // The ref still names the same commit: later polls (seen by their fetch times) do not
    // stage it again.
    crate::support::within(|| async {
        let fetched = db.project("demo/app").await.unwrap().unwrap().fetched_at.unwrap();
        (fetched > staged.staged_at + 300).then_some(())
    })
    .await;
    let staged_events = db.events(None, Cursor::After(0), 1000).await.unwrap().items;
    assert_eq!(staged_events.iter().filter(|e| e.kind == "staged").count(), 1);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_failure_is_retried_then_the_changes_wait_staged_and_merge_once_it_is_mended() {
    let gate = Gate::start(Setup::default()).await;
    // The runner's scratch folder cannot be made: a file is in its way. Every work item
    // errors, which is the machine's fault and never the change's.
    let scratch = gate.config.data_dir.join("tmp");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::write(&scratch, "in the way").unwrap();
    let change = gate.commit("demo/app", "origin/main", &[("fine.txt", "fine\n")], "Fine");
    let staged = gate.stage(&[&change]).await;
    let db = gate.controller().db();
    let first = crate::support::within(|| async {
        db.change(staged[0].id).await.unwrap().unwrap().integration
    })
    .await;
    let errored = crate::support::within(|| async {
        let view = gate.integration(first).await;
        (view.state == IntegrationState::Errored).then_some(view)
    })
    .await;
    let note = errored.note.clone().unwrap_or_default();
    assert!(note.contains("the system failed, not the changes"), "{note}");
    assert!(note.contains("cannot create"), "{note}");
    let lib = errored.work_items.iter().find(|w| w.id == "demo/lib:linux:Build").unwrap();
    assert_eq!(lib.state, WorkItemState::Error);
    assert_eq!(lib.attempts, gate.config.attempts, "retried until no attempt was left");
    let now = db.change(staged[0].id).await.unwrap().unwrap();
    assert!(matches!(now.state, ChangeState::Staged | ChangeState::Integrating), "{now:?}");
    assert_eq!(gate.tip("demo/app"), errored.base, "nothing moved");
    // The errored integration's ref goes; the change's stays for the next integration.
    let integration_ref = format!("refs/tollgate/integrations/{first}");
    crate::support::within(|| async {
        (!gate.kept_refs("demo/app").contains(&integration_ref)).then_some(())
    })
    .await;
    let change_ref = format!("refs/tollgate/changes/{}", staged[0].id);
    assert!(gate.kept_refs("demo/app").contains(&change_ref), "{:?}", gate.kept_refs("demo/app"));

    std::fs::remove_file(&scratch).unwrap();
    let ended = gate.ended(&staged).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    assert_eq!(gate.tip("demo/app"), change);
    let events = db.events(None, Cursor::After(0), 1000).await.unwrap().items;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"work_item_retried"), "{kinds:?}");
    let decisions: Vec<String> =
        events.iter().filter(|e| e.kind == "gate_decided").map(|e| e.detail.to_string()).collect();
    assert!(decisions.iter().all(|d| !d.contains("reject")), "never rejected: {decisions:?}");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_is_bisected_and_only_the_change_that_fails_is_rejected_with_its_lines() {
    let gate = Gate::start(Setup::default()).await;
    let good = gate.commit("demo/app", "origin/main", &[("fine.txt", "fine\n")], "Fine");
    let bad = gate.commit("demo/app", "origin/main", &[("break-test", "")], "Break the test");
    let ended = gate.ended(&gate.stage(&[&good, &bad]).await).await;
    let ids: Vec<i64> = ended.iter().map(|c| c.id).collect();
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    assert_eq!(ended[1].state, ChangeState::Rejected);
    let Some(Rejection::Failed { failures, batch }) = &ended[1].rejection else {
        panic!("{:?}", ended[1].rejection)
    };
    assert_eq!(batch, &ids[1..], "rejected on its own, on top of the good one");
    // The batch's run and its failing re-run, the good one's; alone on the good one, the bad
    // change is the tree that failed, and that failure stands.
    assert_eq!(gate.runs("test-runs"), 3);
    let alone = gate.integration(ended[1].integration.unwrap()).await;
    let test = alone.work_items.iter().find(|w| w.id == "demo/app:linux:Test").unwrap();
    assert_eq!(test.attempts, 0, "{test:?}");
    assert!(test.failure.as_ref().unwrap().message.contains("reused while the batch is bisected"));
    assert_eq!(failures[0].work_item, "demo/app:linux:Test");
    assert_eq!(failures[0].excerpt, ["FAIL: app_test"]);
    // The decision log says why the batch was split, with the failing lines.
    let db = gate.controller().db();
    let events = db.events(None, Cursor::After(0), 1000).await.unwrap().items;
    let decided = events.iter().find(|e| e.kind == "gate_decided").unwrap();
    assert_eq!(decided.detail["decision"], "bisect");
    assert_eq!(decided.detail["changes"], serde_json::json!(ids));
    assert_eq!(decided.detail["next"], 1);
    assert_eq!(decided.detail["rejection"]["batch"], serde_json::json!(ids));
    assert_eq!(decided.detail["rejection"]["failures"][0]["excerpt"][0], "FAIL: app_test");
    gate.stop().await;
}
