//! Speculative integrations (Zuul's dependent pipeline, Coin's `parallel_project_rules`): a
//! branch runs several integrations at once, each formed on the commit of the one ahead of it.
//! They merge in order; one that fails ends those behind it, which are formed again without
//! it; a scarce platform class runs only at the head.

use tollgate_api::{ChangeState, IntegrationState, IntegrationView, WorkItemState};
use tollgate_controller::Config;
use tollgate_core::schedule::{AttributeMatch, ParallelRule, PlatformClass};
use tollgate_state::Cursor;

use crate::support::{Gate, Setup, git, git_out};

fn three_deep(config: &mut Config) {
    config.runtime.speculation.parallel.push(ParallelRule::new("demo/.*", "main", 3).unwrap());
}

fn three_deep_clang_at_the_head(config: &mut Config) {
    three_deep(config);
    config.runtime.speculation.classes.push(PlatformClass {
        name: "scarce".into(),
        matches: AttributeMatch::new(&[("compiler", "Clang")]).unwrap(),
        depth: 1,
    });
}

/// Every integration the changes went through, oldest first.
async fn integrations(gate: &Gate) -> Vec<IntegrationView> {
    let db = gate.controller().db();
    let events = db.events(None, Cursor::After(0), 5000).await.unwrap().items;
    let mut ids: Vec<i64> = events
        .iter()
        .filter(|e| e.kind == "integration_started")
        .filter_map(|e| e.integration)
        .collect();
    ids.dedup();
    let mut views = Vec::new();
    for id in ids {
        views.push(gate.integration(id).await);
    }
    views
}

/// Whether a work item of `behind` started before `ahead` ended.
fn overlaps(ahead: &IntegrationView, behind: &IntegrationView) -> bool {
    let ended = ahead.finished_at.unwrap_or(i64::MAX);
    behind.work_items.iter().filter_map(|item| item.started_at).any(|started| started < ended)
}

fn commits(gate: &Gate, count: usize, breaks: Option<usize>) -> Vec<String> {
    (0..count)
        .map(|n| {
            let file = format!("change-{n}");
            let mut files = vec![(file.as_str(), "x\n")];
            if Some(n) == breaks {
                files.push(("break-build", ""));
            }
            gate.commit("demo/app", "origin/main", &files, &format!("Change {n}"))
        })
        .collect()
}

/// Stages the commits at once and waits until each has ended.
async fn staged_and_ended(gate: &Gate, commits: &[String]) -> Vec<tollgate_api::ChangeView> {
    let refs: Vec<&str> = commits.iter().map(String::as_str).collect();
    let staged = gate.stage(&refs).await;
    gate.ended(&staged).await
}

fn tip_files(gate: &Gate) -> Vec<String> {
    let work = gate.work("demo/app");
    git(&work, &["fetch", "-q", "origin"]);
    let files = git_out(&work, &["ls-tree", "--name-only", &gate.tip("demo/app")]);
    files.lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_good_changes_three_deep_merge_in_order_with_integrations_overlapping() {
    let setup = Setup { configure: Some(three_deep), ..Setup::default() };
    let gate = Gate::start(setup).await;
    let ended = staged_and_ended(&gate, &commits(&gate, 5, None)).await;
    assert!(ended.iter().all(|c| c.state == ChangeState::Merged), "{ended:?}");

    let integrations = integrations(&gate).await;
    assert!(integrations.iter().all(|i| i.state == IntegrationState::Merged), "{integrations:?}");
    // The queue was split over the depth, not taken whole by the first.
    assert!(integrations.len() >= 3, "{} integrations", integrations.len());
    // In order: each formed on the commit of the one ahead, merged after it.
    for pair in integrations.windows(2) {
        let (ahead, behind) = (&pair[0], &pair[1]);
        assert_eq!(Some(&behind.base), ahead.commit.as_ref(), "{} on {}", behind.id, ahead.id);
        assert!(ahead.finished_at <= behind.finished_at);
    }
    let order: Vec<i64> = ended.iter().map(|c| c.integration.unwrap()).collect();
    assert!(order.is_sorted(), "changes merged out of order: {order:?}");
    // Speculation: the one behind ran while the one ahead had not ended.
    let overlapping = integrations.windows(2).filter(|p| overlaps(&p[0], &p[1])).count();
    assert!(overlapping >= 1, "no integration ran before the one ahead of it ended");
    // Each merge pushed once, and the branch is at the last integration.
    assert_eq!(gate.moves("demo/app"), integrations.len());
    assert_eq!(Some(gate.tip("demo/app")), integrations.last().unwrap().commit);
    let files = tip_files(&gate);
    for n in 0..5 {
        assert!(files.contains(&format!("change-{n}")), "change-{n} in {files:?}");
    }
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_change_in_the_middle_is_rejected_and_those_behind_it_merge_without_it() {
    let setup = Setup { configure: Some(three_deep), ..Setup::default() };
    let gate = Gate::start(setup).await;
    let culprit = 2;
    let ended = staged_and_ended(&gate, &commits(&gate, 5, Some(culprit))).await;
    let states: Vec<ChangeState> = ended.iter().map(|c| c.state).collect();
    let mut expected = vec![ChangeState::Merged; 5];
    expected[culprit] = ChangeState::Rejected;
    assert_eq!(states, expected);
    let rejection = serde_json::to_value(ended[culprit].rejection.as_ref().unwrap()).unwrap();
    assert_eq!(rejection["failures"][0]["work_item"], "demo/app:linux:Build", "{rejection}");

    let files = tip_files(&gate);
    for n in (0..5).filter(|n| *n != culprit) {
        assert!(files.contains(&format!("change-{n}")), "change-{n} in {files:?}");
    }
    assert!(!files.contains(&"break-build".to_owned()));
    // What was formed on the failed integration ended with it, and was formed again.
    let integrations = integrations(&gate).await;
    let cancelled: Vec<&IntegrationView> = integrations
        .iter()
        .filter(|i| i.state == IntegrationState::Cancelled)
        .filter(|i| i.note.as_deref().is_some_and(|n| n.contains("ahead of it ended")))
        .collect();
    assert!(!cancelled.is_empty(), "none ended behind the failure: {integrations:?}");
    // Nothing is left running or waiting in them.
    for integration in &cancelled {
        for item in &integration.work_items {
            assert!(
                !matches!(item.state, WorkItemState::Running | WorkItemState::Waiting),
                "{} of {}: {:?}",
                item.id,
                integration.id,
                item.state
            );
        }
    }
    // Each merge pushed once; the merged ones form a line from the first tip.
    let merged: Vec<&IntegrationView> =
        integrations.iter().filter(|i| i.state == IntegrationState::Merged).collect();
    assert_eq!(gate.moves("demo/app"), merged.len());
    for pair in merged.windows(2) {
        assert_eq!(Some(&pair[1].base), pair[0].commit.as_ref());
    }
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scarce_platform_class_never_runs_for_two_integrations_at_once() {
    let configure = Some(three_deep_clang_at_the_head as fn(&mut Config));
    let setup = Setup { scarce: true, configure, ..Setup::default() };
    let gate = Gate::start(setup).await;
    let ended = staged_and_ended(&gate, &commits(&gate, 4, None)).await;
    assert!(ended.iter().all(|c| c.state == ChangeState::Merged), "{ended:?}");

    let integrations = integrations(&gate).await;
    assert!(integrations.len() >= 3, "{} integrations", integrations.len());
    // (integration, start, end) of every run of the scarce configuration.
    let runs = |configuration: &str| -> Vec<(i64, i64, i64)> {
        integrations
            .iter()
            .flat_map(|i| i.work_items.iter().map(move |item| (i.id, item)))
            .filter(|(_, item)| item.id.contains(&format!(":{configuration}:")))
            .filter(|(_, item)| item.state == WorkItemState::Passed)
            .map(|(id, item)| (id, item.started_at.unwrap(), item.finished_at.unwrap()))
            .collect()
    };
    let scarce = runs("scarce");
    assert!(scarce.len() >= 2 * integrations.len(), "{scarce:?}");
    for (a, b) in scarce.iter().flat_map(|a| scarce.iter().map(move |b| (a, b))) {
        let overlap = a.1 < b.2 && b.1 < a.2;
        assert!(a.0 == b.0 || !overlap, "scarce runs of two integrations at once: {a:?} {b:?}");
    }
    // The cheap class did speculate.
    let linux = runs("linux");
    let speculated = linux
        .iter()
        .any(|a| linux.iter().any(|b| a.0 < b.0 && b.1 < a.2.max(ended_of(&integrations, a.0))));
    assert!(speculated, "the linux work items never ran ahead: {linux:?}");
    gate.stop().await;
}

fn ended_of(integrations: &[IntegrationView], id: i64) -> i64 {
    integrations.iter().find(|i| i.id == id).and_then(|i| i.finished_at).unwrap_or_default()
}
