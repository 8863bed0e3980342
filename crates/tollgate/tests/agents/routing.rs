//! Where work goes: each work item to an agent that serves its template; while none does, the
//! work item waits and says why.

use crate::site::{TEMPLATE_A, TEMPLATE_B, site};

#[test]
fn each_work_item_runs_on_an_agent_that_serves_its_template_and_waits_with_the_reason_until_one_does()
 {
    let mut site = site(3);
    let change = site.change("routed", &["routed"]);
    site.stage(&change);

    // No agent yet: the reason is shown in the status and the API.
    site.until("the waiting reason", || {
        site.item("demo/app:linux-a:Build").is_some_and(|item| !item["waiting"].is_null())
    });
    let item = site.item("demo/app:linux-a:Build").unwrap();
    assert_eq!(item["state"], "waiting");
    assert_eq!(item["waiting"], format!("no agent serves template {TEMPLATE_A}"));
    let shown = site.admin(&["status"]);
    assert!(
        shown.stdout.contains(&format!("waiting: no agent serves template {TEMPLATE_B}")),
        "{}",
        shown.stdout
    );

    site.start_agent(1, &[TEMPLATE_A]);
    site.start_agent(2, &[TEMPLATE_B]);
    site.start_agent(3, &[TEMPLATE_B]);
    site.until("the merge", || site.verdict().as_deref() == Some("merged"));
    assert_eq!(site.tip(), change);
    assert_eq!(site.moves(), 1);
    let integration = site.status()["branches"][0]["recent"][0]["id"].as_i64().unwrap();
    let a = site.integration_item(integration, "demo/app:linux-a:Build").unwrap();
    let b = site.integration_item(integration, "demo/app:linux-b:Build").unwrap();
    assert_eq!(a["agent"], "a1", "only a1 serves {TEMPLATE_A}");
    assert!(b["agent"] == "a2" || b["agent"] == "a3", "{TEMPLATE_B} is a2's and a3's: {b}");
    assert_eq!((site.builds("linux-a"), site.builds("linux-b")), (1, 1));
    // The log came over the wire as it grew.
    let log = site.admin(&["log", "demo/app:linux-b:Build"]);
    assert!(log.stdout.contains("building linux-b"), "{}", log.stdout);

    // The operator's view: every agent, what it is, and that the work is done.
    let agents = site.admin(&["agents", "--json"]).json();
    let agents = agents.as_array().unwrap();
    assert_eq!(agents.len(), 3);
    assert_eq!(agents[0]["info"]["name"], "a1");
    assert_eq!(agents[0]["info"]["templates"][0], TEMPLATE_A);
    assert_eq!(agents[0]["info"]["os"], "linux");
    assert!(agents[0]["info"]["cores"].as_u64().unwrap() >= 1);
    assert!(agents.iter().all(|agent| agent["state"] == "idle"), "{agents:?}");
    let table = site.admin(&["agents"]);
    assert!(table.stdout.starts_with("AGENT"), "{}", table.stdout);
    assert!(table.stdout.contains(TEMPLATE_B), "{}", table.stdout);
}
