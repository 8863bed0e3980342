//! The web pages in a real headless Chromium: they follow the gate without a reload, explain a
//! rejection, read the same without JavaScript, and say what their JSON twins say.

use serde_json::Value;
use tollgate_api::{AgentHello, AgentInfo, ChangeState, ChangeView, routes};

use crate::browser::Browser;
use crate::support::{Gate, Setup};

const BUILD: &str = r#"tr[data-item="demo/app:linux:Build"] .state"#;
const TEST: &str = r#"tr[data-item="demo/app:linux:Test"] .state"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_follows_a_work_item_from_waiting_to_passed_without_a_reload() {
    let gate = Gate::start(Setup { hold_lib: true, ..Setup::default() }).await;
    let browser = Browser::start(true).await;
    browser.open(&gate.url("/")).await;
    browser.wait_text("header.bar .live", |text| text == "live").await;
    // Gone if the page were loaded again.
    browser.script("window.sameDocument = true; return null").await;
    let files = [("hold", ""), ("hold-test", "")];
    let commit = gate.commit("demo/app", "origin/main", &files, "Hold the build and the test");
    let staged = gate.stage(&[&commit]).await;

    // The lib builds first: the app's build waits for it.
    browser.wait_text(BUILD, |text| text == "waiting").await;
    browser.shot("overview-waiting").await;
    gate.go_lib();
    browser.wait_text(BUILD, |text| text == "running").await;
    browser.shot("overview-running").await;
    gate.go();
    browser.wait_text(BUILD, |text| text == "passed").await;
    browser.wait_text(TEST, |text| text == "running").await;
    browser.shot("overview-passed").await;
    gate.go_test();
    let last = browser.wait_text(".branch .last-verdict", |text| text.contains("merged")).await;
    assert!(last.contains(&format!("#{}", gate.ended(&staged).await[0].integration.unwrap())));
    browser.shot("overview-merged").await;
    assert_eq!(browser.script("return window.sameDocument === true").await, true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_work_items_page_shows_the_instruction_the_fail_line_and_the_rejection() {
    let gate = Gate::start(Setup::default()).await;
    let commit = gate.commit("demo/app", "origin/main", &[("break-test", "")], "Break the test");
    let staged = gate.stage(&[&commit]).await;
    let change = gate.ended(&staged).await.remove(0);
    assert_eq!(change.state, ChangeState::Rejected);
    let integration = change.integration.unwrap();
    for javascript in [true, false] {
        let browser = Browser::start(javascript).await;
        let page = format!("/work-item?integration={integration}&item=demo/app:linux:Test");
        browser.open(&gate.url(&page)).await;
        assert_eq!(browser.text("#state").await, "failed");
        let why = browser.text(".why").await;
        assert!(why.contains("ExecuteCommand"), "{why}");
        let location = browser.text(".why code.location").await;
        let (file, line) = location.split_once(':').unwrap();
        assert_eq!(file, "demo/app/coin/module_config.yaml");
        let line: u32 = line.split(':').next().unwrap().parse().unwrap();
        assert!(line > 1, "{location}");
        assert_eq!(browser.text(".why .user").await, "A test failed.");
        assert!(browser.text(".why pre.excerpt").await.contains("FAIL: app_test"));
        assert!(browser.text("#log").await.contains("FAIL: app_test"));
        let reproduce =
            format!("tollgate reproduce demo/app:linux:Test --integration {integration}");
        assert_eq!(browser.text("#reproduce").await, reproduce);
        browser.shot(&format!("work-item-failed-js-{javascript}")).await;

        // One click to the integration, one more to the change.
        browser.click(&format!(".crumbs a[href$='/integrations/{integration}']")).await;
        assert_eq!(browser.text("h1 .badge").await, "rejected");
        assert!(browser.text(".why pre.excerpt").await.contains("FAIL: app_test"));
        browser.shot(&format!("integration-rejected-js-{javascript}")).await;
        browser.click(&format!("a[href$='/changes/{}']", change.id)).await;
        assert_eq!(browser.text("#verdict").await, "rejected");
        assert!(browser.text(".why").await.contains("A test failed."));
        browser.shot(&format!("change-rejected-js-{javascript}")).await;
        let live = browser.text("header.bar .live").await;
        assert_eq!(live, if javascript { "live" } else { "static" });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_reads_without_javascript_and_says_what_its_json_twin_says() {
    let gate = Gate::start(Setup::default()).await;
    let good = gate.commit("demo/app", "origin/main", &[("app.txt", "good\n")], "A good change");
    let merged = gate.ended(&gate.stage(&[&good]).await).await.remove(0);
    let bad = gate.commit("demo/app", &good, &[("break-build", "")], "Break the build");
    let rejected = gate.ended(&gate.stage(&[&bad]).await).await.remove(0);
    assert_eq!((merged.state, rejected.state), (ChangeState::Merged, ChangeState::Rejected));
    register_agent(&gate).await;
    let (first, second) = (merged.integration.unwrap(), rejected.integration.unwrap());

    let browser = Browser::start(false).await;
    let twins = Twins { gate: &gate, browser: &browser };

    let status = twins.open("/", "overview").await;
    let branch = &status["branches"][0];
    let card = r#"section.branch[data-project="demo/app"][data-branch="main"]"#;
    let tip = branch["tip"].as_str().unwrap();
    assert!(browser.text(card).await.contains(&tip[..10]));
    let slots = format!("{} / {}", status["slots_busy"], status["slots"]);
    assert!(browser.text("#slots").await.starts_with(&slots));
    let healthy = status["warnings"].as_array().unwrap().is_empty();
    assert_eq!(browser.find("#health").await.is_some(), healthy);
    let verdicts = browser.texts(&format!("{card} .verdicts .badge")).await;
    let recent: Vec<&str> =
        branch["recent"].as_array().unwrap().iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(verdicts, recent);

    browser.click(&format!("{card} a.name")).await;
    let detail = twins.current("branch").await;
    let shown = browser.texts("table.history a[href*='/integrations/']").await;
    let history: Vec<String> = detail["history"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("#{}", i["id"]))
        .collect();
    assert_eq!(shown, history);
    assert_eq!(history, [format!("#{second}"), format!("#{first}")]);
    browser.click("a[href*='/tests?project=']").await;
    let tests = twins.current("tests").await;
    assert_eq!(tests, serde_json::json!([]), "a broken build fails no test");
    assert!(browser.text("#history").await.contains("No test failed in the last 30 days"));

    for id in [first, second] {
        let integration =
            twins.open(&format!("/integrations/{id}"), &format!("integration-{id}")).await;
        assert_eq!(browser.text("h1 .badge").await, integration["state"].as_str().unwrap());
        let items = integration["work_items"].as_array().unwrap();
        assert!(!items.is_empty());
        for item in items {
            let id = item["id"].as_str().unwrap();
            let state = browser.text(&format!(r#"tr[data-item="{id}"] .state"#)).await;
            assert_eq!(state, item["state"].as_str().unwrap(), "{id}");
        }
        assert_eq!(browser.elements("svg.timeline g.row").await.len(), items.len());
    }

    // The lib's build ran in the first integration and was reused in the second.
    let page = format!("/work-item?integration={second}&item=demo/lib:linux:Build");
    let item = twins.open(&page, "work-item-reused").await;
    assert_eq!(item["state"], "reused");
    assert_eq!(item["reused_from"], first);
    assert_eq!(browser.text("#state").await, "reused");
    assert!(browser.text(".kv").await.contains(item["build_key"].as_str().unwrap()));
    browser.click(&format!(".kv a[href*='integration={first}']")).await;
    let ran = twins.current("work-item-ran").await;
    assert_eq!((ran["integration"].as_i64(), ran["state"].as_str()), (Some(first), Some("passed")));
    assert!(browser.text("#log").await.contains("building lib"));

    for change in [&merged, &rejected] {
        let view = twins.open(&format!("/changes/{}", change.id), "change").await;
        let view: ChangeView = serde_json::from_value(view).unwrap();
        assert_eq!(browser.text("#verdict").await, view.state.as_str());
        assert!(browser.text(".sub").await.contains(&view.subject));
    }

    let agents = twins.open("/agents", "agents").await;
    let names = browser.texts("table.agents tr[data-agent] td:first-child strong").await;
    let listed: Vec<&str> =
        agents.as_array().unwrap().iter().map(|a| a["info"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, listed);
    assert_eq!(listed, ["builder-1"]);

    let events = twins.open("/events", "events").await;
    let kinds = browser.texts("table.events tr[data-kind] td:nth-child(3) strong").await;
    let logged: Vec<String> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().replace('_', " "))
        .collect();
    assert_eq!(kinds, logged);
    assert_eq!(browser.text("header.bar .live").await, "static");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_link_under_the_base_path() {
    let gate = Gate::start(Setup { base_path: "/tollgate", ..Setup::default() }).await;
    let browser = Browser::start(false).await;
    browser.open(&gate.url("/tollgate/")).await;
    assert!(browser.url().await.ends_with("/tollgate"));
    browser.click("section.branch a.name").await;
    assert!(browser.url().await.contains("/tollgate/branch?project=demo/app&branch=main"));
    let twin = browser.attribute("a.twin", "href").await.unwrap();
    assert!(twin.ends_with(&format!("/tollgate{}", routes::branch("demo/app", "main"))), "{twin}");
    let style = reqwest::get(gate.url("/tollgate/assets/style.css")).await.unwrap();
    assert_eq!(style.status(), 200);
    let missing = reqwest::get(gate.url("/tollgate/integrations/99")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("no integration 99"));
}

/// A page and its JSON twin, read through the link on the page.
struct Twins<'a> {
    gate: &'a Gate,
    browser: &'a Browser,
}

impl Twins<'_> {
    /// Opens a page and answers its twin.
    async fn open(&self, path: &str, shot: &str) -> Value {
        self.browser.open(&self.gate.url(path)).await;
        self.current(shot).await
    }

    /// The twin of the page the browser shows.
    async fn current(&self, shot: &str) -> Value {
        assert!(
            !self.browser.text("h1").await.is_empty(),
            "{} has no title",
            self.browser.url().await
        );
        self.browser.shot(&format!("no-js-{shot}")).await;
        let twin = self.browser.property("a.twin", "href").await.expect("a link to the twin");
        let answer = reqwest::get(twin.clone()).await.unwrap();
        assert_eq!(answer.status(), 200, "{twin}");
        answer.json().await.unwrap()
    }
}

/// An agent, registered as one does over the protocol, as the agents' page lists it.
async fn register_agent(gate: &Gate) {
    let info = AgentInfo {
        name: "builder-1".into(),
        os: "linux".into(),
        arch: "x86_64".into(),
        distribution: "Debian 12".into(),
        cores: 8,
        memory_bytes: 16 << 30,
        slots: 2,
        templates: vec!["qtci-linux-Debian-12-x86_64-1".into()],
        version: "0.1.0".into(),
        ..AgentInfo::default()
    };
    let hello = AgentHello { info, running: vec![] };
    let answer = reqwest::Client::new()
        .post(gate.url(routes::AGENT_REGISTER))
        .json(&hello)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_work_items_page_follows_its_log_and_its_end() {
    let gate = Gate::start(Setup::default()).await;
    let commit = gate.commit("demo/app", "origin/main", &[("hold", "")], "Hold the build");
    let staged = gate.stage(&[&commit]).await;
    let integration = crate::support::within(|| async {
        let change = gate.controller().db().change(staged[0].id).await.unwrap().unwrap();
        change.integration
    })
    .await;
    gate.running(integration, "demo/app:linux:Build").await;
    let browser = Browser::start(true).await;
    let page = format!("/work-item?integration={integration}&item=demo/app:linux:Build");
    browser.open(&gate.url(&page)).await;
    browser.script("window.sameDocument = true; return null").await;
    assert_eq!(browser.text("#state").await, "running");
    browser.wait_text("#log", |log| log.contains("building app")).await;
    assert!(!browser.text("#log").await.contains("done after"));
    browser.shot("work-item-running").await;
    gate.go();
    browser.wait_text("#log", |log| log.contains("demo/app:linux:Build passed")).await;
    browser.wait_text("#state", |state| state == "passed").await;
    browser.wait_text("#log-state", |text| text.contains("whole log")).await;
    browser.shot("work-item-passed").await;
    assert_eq!(browser.script("return window.sameDocument === true").await, true);
    // Each line once: what the page showed, then what the stream added after it.
    let log = browser.text("#log").await;
    assert_eq!(log.matches("building app").count(), 1, "{log}");
    gate.ended(&staged).await;
}
