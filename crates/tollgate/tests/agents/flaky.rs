//! Coin's rule for flaky tests on agents: a failed test runs again on the agents, each time
//! for real, though an agent's own store has the passed result of an earlier re-run.

use crate::site::{TEMPLATE_A, TEMPLATE_B, site_with_tests};

#[test]
fn a_test_that_fails_once_on_an_agent_runs_again_there_each_time_and_is_forgiven() {
    let mut site = site_with_tests(2);
    std::fs::write(site.path("work/flaky-test"), "1\n").unwrap();
    let change = site.change("flaky", &[]);
    site.start_agent(1, &[TEMPLATE_A, TEMPLATE_B]);
    site.start_agent(2, &[TEMPLATE_A, TEMPLATE_B]);
    site.stage(&change);
    site.until("the merge", || site.verdict().as_deref() == Some("merged"));
    assert_eq!(site.tip(), change);
    // Each configuration's test failed once, then passed Coin's 5 re-runs.
    assert_eq!((site.tests("linux-a"), site.tests("linux-b")), (6, 6));
    assert_eq!((site.builds("linux-a"), site.builds("linux-b")), (1, 1));
    assert_eq!(site.events("work_item_rerun").len(), 10);
    let flakes = site.events("flaky");
    let mut configurations: Vec<&str> =
        flakes.iter().map(|e| e["detail"]["configuration"].as_str().unwrap()).collect();
    configurations.sort();
    assert_eq!(configurations, ["linux-a", "linux-b"]);
}
