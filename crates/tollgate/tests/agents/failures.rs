//! What goes wrong with machines is never the change's fault: an agent killed, a link cut, the
//! controller killed. Tokens and drains.

use crate::site::{TEMPLATE_A, TEMPLATE_B, site};

const BUILD_A: &str = "demo/app:linux-a:Build";

/// The agent (1 or 2) that runs the held build of linux-a, once its build has started.
fn running_on(site: &crate::site::Site) -> u32 {
    site.until("the held build runs on an agent", || {
        site.builds("linux-a") == 1
            && site.item(BUILD_A).is_some_and(|item| item["state"] == "running")
    });
    match site.item(BUILD_A).unwrap()["agent"].as_str().unwrap() {
        "a1" => 1,
        "a2" => 2,
        other => panic!("{BUILD_A} runs on {other}, which does not serve {TEMPLATE_A}"),
    }
}

fn lease_of(site: &crate::site::Site, agent: u32) -> i64 {
    let started = site.events("work_item_started");
    let mine = started.iter().rev().find(|event| {
        event["work_item"] == BUILD_A && event["detail"]["agent"] == format!("a{agent}")
    });
    let mine = mine.unwrap_or_else(|| panic!("no start of {BUILD_A} on a{agent}: {started:?}"));
    mine["detail"]["lease"].as_i64().unwrap()
}

/// Three agents (a1 and a2 serve linux-a, a3 linux-b) and a held change staged: the agent
/// that runs its linux-a build once it has started, and the change.
fn held(site: &mut crate::site::Site, topic: &str) -> (u32, String) {
    site.start_agent(1, &[TEMPLATE_A]);
    site.start_agent(2, &[TEMPLATE_A]);
    site.start_agent(3, &[TEMPLATE_B]);
    let change = site.change(topic, &["hold"]);
    site.stage(&change);
    (running_on(site), change)
}

fn merged_once(site: &crate::site::Site, change: &str) {
    site.until("the merge", || site.verdict().as_deref() == Some("merged"));
    assert_eq!(site.tip(), change);
    assert_eq!(site.moves(), 1, "the branch moved once");
    assert!(site.events("integration_rejected").is_empty());
}

#[test]
fn an_agent_killed_mid_item_loses_its_lease_the_item_runs_elsewhere_and_its_late_report_is_refused()
{
    let mut site = site(3);
    let (first, change) = held(&mut site, "held");
    let lease = lease_of(&site, first);
    site.kill_agent(first); // SIGKILL; its sandbox dies with it
    site.go();
    merged_once(&site, &change);
    let other = 3 - first;
    let item = site.item(BUILD_A).unwrap();
    assert_eq!(item["agent"], format!("a{other}"), "{item}");
    assert_eq!(item["state"], "passed");
    assert_eq!(site.builds("linux-a"), 2, "ran again");
    let retried = site.events("work_item_retried");
    assert!(
        retried.iter().any(|e| e["detail"]["error"].as_str().unwrap().contains("was lost")),
        "{retried:?}"
    );

    // Restarted under its name, the agent registers again; a report it sends for the run
    // that was taken away from it is refused.
    site.start_agent(first, &[TEMPLATE_A]);
    site.until("it registers again", || site.agent_log(first).matches("registered").count() >= 2);
    let token = site.agent_token(&format!("a{first}"));
    let late = format!(
        r#"{{"lease":{lease},"agent":"a{first}","state":"passed","failure":null,"record":null}}"#
    );
    assert_eq!(site.post("/api/agent/report", &token, &late), 409);
    assert_eq!(site.item(BUILD_A).unwrap()["agent"], format!("a{other}"), "unchanged");
    assert_eq!(site.moves(), 1);
}

#[test]
fn an_agent_cut_off_for_longer_than_its_lease_has_its_work_run_elsewhere_and_drops_it_when_back() {
    let mut site = site(3);
    let (first, change) = held(&mut site, "cut");
    site.net.link(first, false);
    let other = 3 - first;
    site.until("the work item runs on the other agent", || {
        site.item(BUILD_A).is_some_and(|item| item["agent"] == format!("a{other}"))
    });
    // Both builds go on now: the cut-off one finishes too, but cannot report.
    site.go();
    merged_once(&site, &change);
    assert_eq!(site.item(BUILD_A).unwrap()["agent"], format!("a{other}"));
    site.net.link(first, true);
    site.until("the cut-off agent drops its stale work", || {
        let log = site.agent_log(first);
        log.contains("its run is dropped") || log.contains("report refused")
    });
    assert_eq!(site.moves(), 1);
    assert_eq!(site.item(BUILD_A).unwrap()["agent"], format!("a{other}"), "not overwritten");
}

#[test]
fn agents_ride_out_a_controller_killed_and_restarted_and_their_results_are_taken_once() {
    let mut site = site(3);
    let (first, change) = held(&mut site, "restart");
    site.kill_controller();
    // The build finishes while the controller is away; its agent keeps the report.
    site.go();
    site.until("the build ends while the controller is away", || {
        site.agent_log(first).contains("run ended")
    });
    site.start_controller();
    merged_once(&site, &change);
    let item = site.item(BUILD_A).unwrap();
    assert_eq!(item["agent"], format!("a{first}"), "the result of the run that finished: {item}");
    assert_eq!(site.builds("linux-a"), 1, "not run again");
    assert_eq!(site.events("pushed").len(), 1);
    let finished = site.events("work_item_finished");
    let of_a = finished.iter().filter(|e| e["work_item"] == BUILD_A).count();
    assert_eq!(of_a, 1, "recorded once: {finished:?}");
}

#[test]
fn a_wrong_or_revoked_token_gets_401_and_no_work_and_staging_needs_a_token() {
    let mut site = site(3);
    let wrong = site.path("wrong.token");
    std::fs::write(&wrong, format!("tg_{}\n", "0".repeat(64))).unwrap();
    site.start_agent_with(1, &[TEMPLATE_A], &wrong);
    assert_eq!(site.agent_exit(1), 2, "{}", site.agent_log(1));
    assert!(site.agent_log(1).contains("refused this agent's token"), "{}", site.agent_log(1));

    let change = site.change("tokens", &["tokens"]);
    let unsigned = site.cli(&["stage", "demo/app", "main", &change]);
    assert_ne!(unsigned.code, 0);
    assert!(unsigned.stderr.contains("needs a token"), "{}", unsigned.stderr);

    // An agent whose token is revoked stops: it gets no work.
    site.start_agent(2, &[TEMPLATE_A]);
    site.until("a2 registers", || site.agent_log(2).contains("registered"));
    // Another agent's token cannot take over a2's name (and its leases).
    let other = site.agent_token("a3");
    let impostor = crate::site::run(&mut site.agent_command_named(3, "a2", &[TEMPLATE_A], &other));
    assert_eq!(impostor.code, 2);
    assert!(
        site.agent_log(3).contains("agent a2 belongs to the token `a2`"),
        "{}",
        site.agent_log(3)
    );
    let revoked = site.admin(&["token", "revoke", "a2"]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert_eq!(site.agent_exit(2), 2, "{}", site.agent_log(2));
    site.stage(&change);
    // Once the revoked agent is lost, nothing serves the build's template any more.
    site.until("no agent serves linux-a", || {
        site.item(BUILD_A).is_some_and(|item| !item["waiting"].is_null())
    });
    assert!(site.events("work_item_started").is_empty(), "no agent got work");
}

#[test]
fn a_drained_agent_finishes_its_work_item_takes_no_new_lease_and_exits_0() {
    let mut site = site(3);
    site.start_agent(1, &[TEMPLATE_A]);
    site.start_agent(3, &[TEMPLATE_B]);
    let change = site.change("drained", &["hold"]);
    site.stage(&change);
    assert_eq!(running_on(&site), 1);
    let pid = site.agent(1).id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    site.until("a1 drains", || site.agent_log(1).contains("draining"));
    // The controller heard it: a1 drains with its work item still running.
    let mut agents = serde_json::Value::Null;
    site.until("the controller shows a1 draining", || {
        agents = site.admin(&["agents", "--json"]).json();
        agents
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["info"]["name"] == "a1" && a["state"] == "draining")
    });
    assert!(site.agent(1).try_wait().unwrap().is_none(), "still running its work item");
    site.go();
    assert_eq!(site.agent_exit(1), 0, "{}", site.agent_log(1));
    merged_once(&site, &change);
    let started = site.events("work_item_started");
    let on_a1 = started.iter().filter(|e| e["detail"]["agent"] == "a1").count();
    assert_eq!(on_a1, 1, "no new lease after the drain: {started:?}");
    assert!(agents.as_array().unwrap().iter().any(|a| a["info"]["name"] == "a1"));

    // The operator's drain: an idle agent exits at once.
    let drained = site.admin(&["agent", "drain", "a3"]);
    assert_eq!(drained.code, 0, "{}", drained.stderr);
    assert_eq!(site.agent_exit(3), 0, "{}", site.agent_log(3));
}
