//! The quarantine: a test whose failures do not reject while its entry is in force. It still
//! runs and is reported; once the entry ends it gates again by itself. The app's test fails
//! its `app_test` whenever the tree has a `break-test` file.

use tollgate_api::{ChangeState, NewQuarantine, QuarantineView, WorkItemState};
use tollgate_state::Cursor;

use crate::support::{Gate, Setup, within};

async fn quarantine(
    gate: &Gate,
    test: &str,
    configuration: Option<&str>,
    until: i64,
) -> reqwest::Response {
    let new = NewQuarantine {
        project: "demo/app".into(),
        test: test.into(),
        configuration: configuration.map(str::to_owned),
        owner: "qa-team".into(),
        reason: "QTBUG-4711".into(),
        until,
    };
    reqwest::Client::new().post(gate.url("/api/quarantine")).json(&new).send().await.unwrap()
}

async fn in_force(gate: &Gate) -> Vec<QuarantineView> {
    let url = gate.url("/api/quarantine?project=demo/app");
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_failure_merges_reported_and_rejects_again_once_the_entry_ends() {
    let gate = Gate::start(Setup::default()).await;
    let now = tollgate_state::now_ms();

    // An entry for another configuration forgives nothing here.
    let elsewhere = quarantine(&gate, "app_test", Some("^windows"), now + 3_600_000).await;
    assert_eq!(elsewhere.status(), 200);
    let broken = gate.commit("demo/app", "origin/main", &[("break-test", "")], "Break the test");
    let ended = gate.ended(&gate.stage(&[&broken]).await).await;
    assert_eq!(ended[0].state, ChangeState::Rejected);

    // Quarantined on linux for a while: the same failure merges, and says what it forgave.
    let until = tollgate_state::now_ms() + 20_000;
    let added: QuarantineView =
        quarantine(&gate, "app_*", Some("^lin"), until).await.json().await.unwrap();
    let runs = gate.runs("test-runs");
    let again = gate.commit("demo/app", "origin/main", &[("break-test", "again")], "Still broken");
    let ended = gate.ended(&gate.stage(&[&again]).await).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    assert_eq!(gate.runs("test-runs"), runs + 1, "it ran, once: no re-runs for a quarantined test");
    let integration = gate.integration(ended[0].integration.unwrap()).await;
    let test = integration.work_items.iter().find(|w| w.id == "demo/app:linux:Test").unwrap();
    assert_eq!(test.state, WorkItemState::Passed);
    assert_eq!(test.quarantined.len(), 1, "{test:?}");
    let forgiven = &test.quarantined[0];
    assert_eq!((forgiven.name.as_str(), forgiven.quarantine), ("app_test", added.id));
    assert_eq!(forgiven.message.as_deref(), Some("expected 2, got 3"));
    assert_eq!((forgiven.owner.as_str(), forgiven.reason.as_str()), ("qa-team", "QTBUG-4711"));
    let db = gate.controller().db();
    let events = db.events(integration.id.into(), Cursor::After(0), 500).await.unwrap().items;
    let event = events.iter().find(|e| e.kind == "quarantined").expect("a quarantined event");
    assert_eq!(event.detail["tests"][0]["name"], "app_test");
    assert_eq!(event.detail["failure"]["message"], "exited with code 4");
    // The history counts the failure all the same.
    let history: Vec<tollgate_api::TestHistory> =
        reqwest::get(gate.url("/api/tests?project=demo/app")).await.unwrap().json().await.unwrap();
    assert_eq!(history[0].test, "app_test");
    assert!(history[0].failures >= 3, "{history:?}");
    // The project's tests page shows it, quarantined, with the entry.
    let page =
        reqwest::get(gate.url("/tests?project=demo/app")).await.unwrap().text().await.unwrap();
    let row = page.split(r#"<tr data-test="app_test">"#).nth(1).expect("a row for app_test");
    let row = row.split("</tr>").next().unwrap();
    assert!(row.contains("quarantined") && row.contains("linux"), "{row}");
    assert!(page.contains(&format!(r#"<tr data-entry="{}">"#, added.id)), "{page}");
    assert!(page.contains("QTBUG-4711"));

    // The entry ends by itself; the test gates again.
    within(|| async { (tollgate_state::now_ms() >= added.until).then_some(()) }).await;
    assert!(in_force(&gate).await.iter().all(|e| e.id != added.id), "it ended by itself");
    let after = gate.commit("demo/app", "origin/main", &[("other", "x")], "After the quarantine");
    let ended = gate.ended(&gate.stage(&[&after]).await).await;
    assert_eq!(ended[0].state, ChangeState::Rejected, "the tip's broken test rejects again");
    let url = gate.url("/api/quarantine?project=demo/app&all=true");
    let all: Vec<QuarantineView> = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert_eq!(all.len(), 2, "ended entries stay listed with all=true");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_is_refused_with_the_field_that_is_wrong_and_a_removed_one_forgives_nothing() {
    let gate = Gate::start(Setup { flaky_reruns: Some(0), ..Setup::default() }).await;
    let hour = tollgate_state::now_ms() + 3_600_000;
    let refused = |response: reqwest::Response| async move {
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let (status, why) = refused(quarantine(&gate, "app_test", Some("(linux"), hour).await).await;
    assert_eq!(status, 400);
    assert!(why.contains("`configuration`: `(linux` is not a regular expression"), "{why}");
    let (status, why) = refused(quarantine(&gate, "app_test", None, 1_000).await).await;
    assert_eq!(status, 400);
    assert!(why.contains("`until`: 1970-01-01T00:00:01Z has passed"), "{why}");
    let (status, why) = refused(quarantine(&gate, " ", None, hour).await).await;
    assert!(status == 400 && why.contains("`test` is empty"), "{why}");

    let added: QuarantineView =
        quarantine(&gate, "app_test", None, hour).await.json().await.unwrap();
    let url = gate.url(&tollgate_api::routes::remove_quarantine(added.id));
    let removed: QuarantineView =
        reqwest::Client::new().post(url).send().await.unwrap().json().await.unwrap();
    assert!(removed.removed_at.is_some());
    assert!(in_force(&gate).await.is_empty());
    let broken = gate.commit("demo/app", "origin/main", &[("break-test", "")], "Break the test");
    let ended = gate.ended(&gate.stage(&[&broken]).await).await;
    assert_eq!(ended[0].state, ChangeState::Rejected);
    gate.stop().await;
}
