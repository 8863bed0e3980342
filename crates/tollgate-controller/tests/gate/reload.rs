//! The runtime configuration is read again while the service runs: a changed file takes
//! effect without a restart; a broken one is refused with its file and line, and the one
//! before stays in force.

use tollgate_api::{ChangeView, RuntimeView};

use crate::support::{Gate, Setup, within};

async fn runtime(gate: &Gate) -> RuntimeView {
    reqwest::get(gate.url("/api/config")).await.unwrap().json().await.unwrap()
}

/// Stages two new changes and waits for both to merge; the integrations they went in.
async fn two_changes(gate: &Gate, round: &str) -> Vec<ChangeView> {
    let commits: Vec<String> = (0..2)
        .map(|n| {
            let file = format!("{round}-{n}");
            gate.commit("demo/app", "origin/main", &[(&file, "x\n")], &format!("{round} {n}"))
        })
        .collect();
    let refs: Vec<&str> = commits.iter().map(String::as_str).collect();
    let staged = gate.stage(&refs).await;
    gate.ended(&staged).await
}

fn integrations(changes: &[ChangeView]) -> Vec<i64> {
    let mut ids: Vec<i64> = changes.iter().filter_map(|c| c.integration).collect();
    ids.dedup();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_takes_effect_at_once_and_a_broken_one_is_refused_with_its_line() {
    let setup = Setup { config_file: Some("max_batch = 50\n"), ..Setup::default() };
    let gate = Gate::start(setup).await;
    let file = gate.tmp.path().join("tollgate.toml");
    assert_eq!(runtime(&gate).await.max_batch, 50);
    let first = two_changes(&gate, "first").await;
    assert_eq!(integrations(&first).len(), 1, "one batch of two: {first:?}");

    // One change per integration, two deep: read again without a restart.
    std::fs::write(
        &file,
        "max_batch = 1\n[[parallel_project_rules]]\nproject = \"demo/app\"\ndepth = 2\n",
    )
    .unwrap();
    let read = within(|| async {
        let now = runtime(&gate).await;
        (now.max_batch == 1).then_some(now)
    })
    .await;
    assert_eq!(read.parallel_project_rules[0].project, "demo/app");
    assert_eq!(read.parallel_project_rules[0].depth, 2);
    assert_eq!(read.error, None);
    let second = two_changes(&gate, "second").await;
    let ids = integrations(&second);
    assert_eq!(ids.len(), 2, "one change each: {second:?}");
    let (ahead, behind) = (gate.integration(ids[0]).await, gate.integration(ids[1]).await);
    assert_eq!(Some(behind.base), ahead.commit, "the second formed on the first");

    // A pattern that does not compile, on line 3: refused, the runtime before stays.
    std::fs::write(
        &file,
        "max_batch = 3\n\n[[parallel_project_rules]]\nproject = \"demo/(\"\ndepth = 2\n",
    )
    .unwrap();
    let refused = within(|| async { runtime(&gate).await.error }).await;
    let at = format!("{}:3:1: parallel_project_rules[0]", file.display());
    assert!(refused.starts_with(&at), "{refused}");
    assert!(refused.contains("demo/("), "{refused}");
    let kept = runtime(&gate).await;
    assert_eq!((kept.max_batch, kept.loaded_at), (1, read.loaded_at));
    let third = two_changes(&gate, "third").await;
    assert_eq!(integrations(&third).len(), 2, "still one change each: {third:?}");

    // Fixed: read, and the error is gone.
    std::fs::write(&file, "max_batch = 3\n").unwrap();
    within(|| async {
        let now = runtime(&gate).await;
        (now.max_batch == 3 && now.error.is_none()).then_some(())
    })
    .await;
    gate.stop().await;
}

const BOT: &str = "Cherry-pick Bot <bot@example.org>";

/// Stages a change by the bot; the change.
async fn by_bot(gate: &Gate, name: &str) -> ChangeView {
    let commit = gate.commit_by(Some(BOT), "demo/app", "origin/main", &[(name, "x\n")], name);
    gate.stage(&[&commit]).await.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_changes_accumulate_for_the_delay_until_the_switch_turns_it_off() {
    let text = "[accumulation]\nauthor = \"Cherry-pick Bot\"\ndelay = \"3s\"\n";
    let gate = Gate::start(Setup { config_file: Some(text), ..Setup::default() }).await;
    let first = by_bot(&gate, "pick-1").await;
    let second = by_bot(&gate, "pick-2").await;
    let ended = gate.ended(&[first.clone(), second]).await;
    assert_eq!(integrations(&ended).len(), 1, "accumulated into one: {ended:?}");
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    let held = integration.created_at - first.staged_at;
    assert!(held >= 3000, "formed {held} ms after the first was staged");
    // A developer's change is not held.
    let commit = gate.commit("demo/app", "origin/main", &[("dev-1", "x\n")], "dev 1");
    let dev = gate.stage(&[&commit]).await;
    let dev = gate.ended(&dev).await;
    let integration = gate.integration(dev[0].integration.unwrap()).await;
    assert!(integration.created_at - dev[0].staged_at < 3000);

    // Switched off: the bot's next change goes at once.
    let file = gate.tmp.path().join("tollgate.toml");
    std::fs::write(&file, format!("{text}enabled = false\n")).unwrap();
    within(|| async {
        let now = runtime(&gate).await;
        now.accumulation.is_some_and(|a| !a.enabled).then_some(())
    })
    .await;
    let third = by_bot(&gate, "pick-3").await;
    let ended = gate.ended(&[third]).await;
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    assert!(integration.created_at - ended[0].staged_at < 3000, "held though switched off");
    gate.stop().await;
}
