//! What an operator's Prometheus and probes see over real HTTP: `/metrics` before and after
//! real integrations (linted by `promtool check metrics`, Debian's `prometheus` package), and
//! `/healthz` and `/readyz`, which need no token where reads do.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;
use tollgate_api::{ChangeState, IntegrationView, WorkItemState};

use crate::support::{Gate, Setup, within};

/// One scrape of `/metrics`: its text, and its samples by name and labels.
struct Scrape {
    text: String,
    samples: BTreeMap<(String, String), f64>,
}

impl Scrape {
    async fn of(gate: &Gate) -> Scrape {
        let answer = reqwest::get(gate.url("/metrics")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let kind = answer.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
        let text = answer.text().await.unwrap();
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
                let labels = labels.strip_suffix('}').unwrap();
                ((name.to_owned(), labels.to_owned()), value.parse().unwrap())
            })
            .collect();
        Scrape { text, samples }
    }

    /// A sample's value, 0 when it is not there yet (a family of labels nobody used);
    /// `labels` as the text writes them, `outcome="merged"`.
    fn value(&self, name: &str, labels: &str) -> f64 {
        self.samples.get(&(name.to_owned(), labels.to_owned())).copied().unwrap_or(0.0)
    }
}

/// `promtool check metrics` on the text, on its standard input: no error, no lint problem.
fn promtool_accepts(text: &str) {
    let started = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match started {
        Ok(child) => child,
        Err(error) => panic!(
            "cannot run promtool ({error}); it comes with Debian's `prometheus` package, which scripts/test installs"
        ),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool check metrics: {said}\n{text}");
}

/// How many of the integration's work items ended in `state`.
fn items(integration: &IntegrationView, state: WorkItemState) -> f64 {
    integration.work_items.iter().filter(|item| item.state == state).count() as f64
}

/// The scrape once the branch's task has counted one more merged integration and its one
/// merged change, which it does after the state recorded the merge.
async fn counted(gate: &Gate, before: &Scrape) -> Scrape {
    within(|| async {
        let now = Scrape::of(gate).await;
        let one_more =
            |name: &str, labels: &str| now.value(name, labels) == before.value(name, labels) + 1.0;
        let merged = one_more("tollgate_integrations_total", MERGED);
        (merged && one_more("tollgate_stage_to_merge_seconds_count", "")).then_some(now)
    })
    .await
}

const MERGED: &str = "outcome=\"merged\"";
const RAN_PASSED: &str = "configuration=\"linux\",outcome=\"passed\"";
const BRANCH: &str = "project=\"demo/app\",branch=\"main\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counters_an_operator_watches_move_with_each_integration() {
    let gate = Gate::start(Setup::default()).await;
    let before = Scrape::of(&gate).await;
    promtool_accepts(&before.text);
    assert_eq!(before.value("tollgate_integrations_total", MERGED), 0.0, "{}", before.text);
    assert_eq!(before.value("tollgate_slots", ""), 2.0, "the local slots");
    assert_eq!(before.value("tollgate_agents", "state=\"idle\""), 1.0, "this machine's slots");
    assert_eq!(before.value("tollgate_branch_stalled", BRANCH), 0.0);

    let first = gate.commit("demo/app", "origin/main", &[("one.txt", "1\n")], "First");
    let ended = gate.ended(&gate.stage(&[&first]).await).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    let after = counted(&gate, &before).await;
    promtool_accepts(&after.text);
    let moved = |name: &str, labels: &str| after.value(name, labels) - before.value(name, labels);
    assert_eq!(moved("tollgate_integrations_total", MERGED), 1.0, "{}", after.text);
    assert_eq!(moved("tollgate_integrations_total", "outcome=\"rejected\""), 0.0);
    let ran = items(&integration, WorkItemState::Passed);
    assert!(ran >= 2.0, "the app's build and test at least: {:?}", integration.work_items);
    assert_eq!(
        moved("tollgate_work_item_duration_seconds_count", RAN_PASSED),
        ran,
        "each work item that ran, once"
    );
    assert_eq!(moved("tollgate_reuse_hits_total", ""), 0.0, "nothing to reuse yet");
    assert_eq!(after.value("tollgate_queue_depth", BRANCH), 0.0, "the queue is empty again");
    assert_eq!(after.value("tollgate_slots_busy", ""), 0.0);
    assert_eq!(moved("tollgate_system_errors_total", "kind=\"run_errored\""), 0.0);

    // The library did not change: its build is reused from the store.
    let second = gate.commit("demo/app", "origin/main", &[("two.txt", "2\n")], "Second");
    let ended = gate.ended(&gate.stage(&[&second]).await).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    let reused = items(&integration, WorkItemState::Reused);
    assert_eq!(reused, 1.0, "the library's build: {:?}", integration.work_items);
    let last = counted(&gate, &after).await;
    promtool_accepts(&last.text);
    let since = |name: &str, labels: &str| last.value(name, labels) - after.value(name, labels);
    assert_eq!(since("tollgate_reuse_hits_total", ""), reused, "{}", last.text);
    assert_eq!(
        since("tollgate_work_item_duration_seconds_count", RAN_PASSED),
        items(&integration, WorkItemState::Passed),
        "a reused work item is not a run"
    );
    // The store's size comes from a walk in the background that the first scrape started
    // (of an empty store then; the next walks a minute later).
    within(|| async {
        let scrape = Scrape::of(&gate).await;
        let key = ("tollgate_store_bytes".to_owned(), String::new());
        scrape.samples.contains_key(&key).then_some(())
    })
    .await;
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_need_no_token_and_readiness_names_the_gated_branches() {
    let setup = Setup { admin_token: true, read_needs_token: true, ..Setup::default() };
    let gate = Gate::start(setup).await;
    let client = reqwest::Client::new();
    let health = client.get(gate.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.json::<Value>().await.unwrap(), serde_json::json!({"status": "ok"}));
    let ready = client.get(gate.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ok", "{ready}");
    assert_eq!(ready["branches"], 1, "demo/app's main: {ready}");
    assert_eq!(ready["warnings"], serde_json::json!([]), "nothing waits, nothing stalls");
    // The metrics are a read like the others: closed without a token here, and their refusal
    // is JSON.
    let closed = client.get(gate.url("/metrics")).send().await.unwrap();
    assert_eq!(closed.status(), StatusCode::UNAUTHORIZED);
    let refusal: Value = closed.json().await.unwrap();
    assert!(refusal["error"].as_str().unwrap().contains("/metrics"), "{refusal}");
    let admin = std::fs::read_to_string(gate.tmp.path().join("admin.token")).unwrap();
    let open = client.get(gate.url("/metrics")).bearer_auth(admin.trim()).send().await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    assert!(open.text().await.unwrap().contains("tollgate_integrations_total"));
    // Prometheus asks for OpenMetrics first, and gets it.
    let accept = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4";
    let scraped =
        client.get(gate.url("/metrics")).bearer_auth(admin.trim()).header("accept", accept);
    let scraped = scraped.send().await.unwrap();
    let kind = scraped.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(scraped.text().await.unwrap().ends_with("# EOF\n"));
    gate.stop().await;
}
