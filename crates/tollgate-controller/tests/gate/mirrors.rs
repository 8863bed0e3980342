//! The mirrors stay small: a ref of the mirror's own only for a change that waits or runs, for
//! an integration that has not finished and for the newest rejected ones (`reproduce` fetches
//! them), old ones swept at startup, refs and objects packed in the background, and the gate
//! merging as before.

use tollgate_api::{ChangeState, IntegrationState};

use crate::support::{Gate, Setup, git_out, within};

const APP: &str = "demo/app";

fn change_ref(id: i64) -> String {
    format!("refs/tollgate/changes/{id}")
}

fn integration_ref(id: i64) -> String {
    format!("refs/tollgate/integrations/{id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_keeps_refs_only_for_changes_that_wait_integrations_that_run_and_the_newest_rejected()
 {
    let setup = Setup { keep_rejected: Some(1), ..Setup::default() };
    let gate = Gate::start(setup).await;
    let passing = gate.commit(APP, "origin/main", &[("a.txt", "a\n")], "Passes");
    let failing = gate.commit(APP, "origin/main", &[("break-build", "")], "Breaks the build");
    let merged = gate.ended(&gate.stage(&[&passing]).await).await;
    let rejected = gate.ended(&gate.stage(&[&failing]).await).await;
    assert_eq!(merged[0].state, ChangeState::Merged, "{:?}", merged[0].rejection);
    assert_eq!(rejected[0].state, ChangeState::Rejected);
    let first_rejected = integration_ref(rejected[0].integration.unwrap());
    within(|| async { (gate.kept_refs(APP) == [first_rejected.clone()]).then_some(()) }).await;
    // A newer rejection pushes the older one's commit out of the one kept.
    let failing = gate.commit(APP, "origin/main", &[("break-build", "again")], "Breaks it again");
    let rejected = gate.ended(&gate.stage(&[&failing]).await).await;
    assert_eq!(rejected[0].state, ChangeState::Rejected);
    let newest_rejected = integration_ref(rejected[0].integration.unwrap());
    within(|| async { (gate.kept_refs(APP) == [newest_rejected.clone()]).then_some(()) }).await;

    // One change held in its integration, one waiting behind it, one taken back.
    let held = gate.commit(APP, "origin/main", &[("hold", ""), ("h.txt", "h\n")], "Held");
    let held = gate.stage(&[&held]).await;
    let db = gate.controller().db();
    let running =
        within(|| async { db.change(held[0].id).await.unwrap().unwrap().integration }).await;
    gate.running(running, "demo/app:linux:Build").await;
    let waiting = gate.commit(APP, "origin/main", &[("w.txt", "w\n")], "Waits");
    let waiting = gate.stage(&[&waiting]).await;
    let taken_back = gate.commit(APP, "origin/main", &[("t.txt", "t\n")], "Taken back");
    let taken_back = gate.stage(&[&taken_back]).await;
    gate.controller().unstage(APP, "main", &taken_back[0].id.to_string()).await.unwrap();
    let kept = [
        change_ref(held[0].id),
        change_ref(waiting[0].id),
        integration_ref(running),
        newest_rejected.clone(),
    ];
    let mut kept = kept.to_vec();
    kept.sort();
    assert_eq!(gate.kept_refs(APP), kept);

    gate.go();
    let ended = gate.ended(&[held[0].clone(), waiting[0].clone()]).await;
    assert!(ended.iter().all(|c| c.state == ChangeState::Merged), "{ended:?}");
    // A batch where one change conflicts with the other: rejected at forming.
    let one = gate.commit(APP, "origin/main", &[("app.txt", "one\nTWO\nthree\n")], "One");
    let other = gate.commit(APP, "origin/main", &[("app.txt", "one\n2\nthree\n")], "Other");
    let batch = gate.ended(&gate.stage(&[&one, &other]).await).await;
    let states: Vec<_> = batch.iter().map(|c| c.state).collect();
    assert_eq!(states, [ChangeState::Merged, ChangeState::Rejected]);
    within(|| async { (gate.kept_refs(APP) == [newest_rejected.clone()]).then_some(()) }).await;

    // The branch has every merged change, and nothing else.
    let tip = gate.tip(APP);
    let files = git_out(&gate.remote(APP), &["ls-tree", "--name-only", &tip]);
    for file in ["a.txt", "h.txt", "w.txt"] {
        assert!(files.lines().any(|f| f == file), "{file} missing: {files}");
    }
    for file in ["break-build", "t.txt"] {
        assert!(!files.lines().any(|f| f == file), "{file} merged: {files}");
    }
    let app = git_out(&gate.remote(APP), &["show", &format!("{tip}:app.txt")]);
    assert_eq!(app, "one\nTWO\nthree\n");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_sweeps_old_refs_keeps_a_resumed_integrations_and_upkeep_packs_the_mirror() {
    let setup = Setup { maintenance_every: Some(1), ..Setup::default() };
    let mut gate = Gate::start(setup).await;
    let first = gate.commit(APP, "origin/main", &[("a.txt", "a\n")], "First");
    let first = gate.ended(&gate.stage(&[&first]).await).await;
    let held = gate.commit(APP, "origin/main", &[("hold", ""), ("h.txt", "h\n")], "Held");
    let held = gate.stage(&[&held]).await;
    let db = gate.controller().db().clone();
    let running =
        within(|| async { db.change(held[0].id).await.unwrap().unwrap().integration }).await;
    gate.running(running, "demo/app:linux:Build").await;

    // What an installation that never removed a ref has: one per change and integration
    // ever, and some nobody knows.
    let mirror = gate.mirror(APP);
    let tip = gate.tip(APP);
    let old = [
        change_ref(first[0].id),
        integration_ref(first[0].integration.unwrap()),
        change_ref(9999),
        integration_ref(9998),
    ];
    for name in &old {
        crate::support::git(&mirror, &["update-ref", name, &tip]);
    }
    gate.restart().await;
    let mut kept = vec![change_ref(held[0].id), integration_ref(running)];
    kept.sort();
    assert_eq!(gate.kept_refs(APP), kept, "swept at startup; the resumed integration's stay");

    gate.go();
    let ended = gate.ended(&held).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    assert_eq!(ended[0].integration, Some(running), "resumed, not formed again");
    let view = gate.integration(running).await;
    assert_eq!(view.state, IntegrationState::Merged);
    assert_eq!(gate.tip(APP), view.commit.unwrap());

    // Maintained in the background after that integration: every ref in `packed-refs`,
    // every object in a pack.
    within(|| async {
        let packed = gate.loose_refs(APP).is_empty() && gate.loose_objects(APP) == 0;
        (packed && gate.kept_refs(APP).is_empty()).then_some(())
    })
    .await;
    let packed = std::fs::read_to_string(mirror.join("packed-refs")).unwrap();
    assert!(packed.contains(" refs/heads/main\n"), "{packed}");

    // And the gate goes on merging in the maintained mirror.
    let after = gate.commit(APP, "origin/main", &[("after.txt", "after\n")], "After");
    let after = gate.ended(&gate.stage(&[&after]).await).await;
    assert_eq!(after[0].state, ChangeState::Merged, "{:?}", after[0].rejection);
    let files = git_out(&gate.remote(APP), &["ls-tree", "--name-only", &gate.tip(APP)]);
    assert!(files.contains("after.txt") && files.contains("h.txt"), "{files}");
    gate.stop().await;
}
