use std::collections::BTreeMap;

use super::*;

const LINUX: &str = "qtci-linux-Ubuntu-22.04-x86_64-51";
const MACOS: &str = "qtci-macos-14-arm-106";

fn branch(name: &str) -> BranchKey {
    BranchKey { project: "qt/qtbase".into(), branch: name.into() }
}

fn demand(key: &str, on: &str, template: &str) -> Demand<String> {
    Demand {
        key: key.into(),
        branch: branch(on),
        depth: 0,
        template: template.into(),
        slots: 1,
        attributes: BTreeMap::new(),
    }
}

fn agent(name: &str, templates: &[&str], slots: u32) -> AgentSpec {
    AgentSpec {
        name: name.into(),
        templates: templates.iter().map(|t| (*t).to_owned()).collect(),
        labels: BTreeMap::new(),
        slots,
    }
}

fn taken(scheduler: &mut Scheduler<String>, agent: &str) -> Option<String> {
    scheduler.take(agent).map(|placed| placed.demand.key)
}

#[test]
fn a_work_item_goes_only_to_an_agent_that_serves_its_template() {
    let mut scheduler = Scheduler::new(Vec::new());
    scheduler.connect(agent("linux-1", &[LINUX], 1));
    scheduler.connect(agent("mac-1", &[MACOS], 1));
    scheduler.enqueue(demand("mac build", "dev", MACOS));
    scheduler.enqueue(demand("linux build", "dev", LINUX));
    scheduler.enqueue(demand("windows build", "dev", "qtci-windows-11-x86_64-1"));

    assert_eq!(taken(&mut scheduler, "linux-1").as_deref(), Some("linux build"));
    assert_eq!(taken(&mut scheduler, "mac-1").as_deref(), Some("mac build"));
    assert_eq!(scheduler.take("linux-1"), None, "busy, and nothing else it serves");
    scheduler.release(&"linux build".to_owned());
    assert_eq!(scheduler.take("linux-1"), None, "idle, but the windows one is not for it");
    let why = scheduler.unplaceable(&"windows build".to_owned()).unwrap();
    assert_eq!(why.to_string(), "no agent serves template qtci-windows-11-x86_64-1");
    assert_eq!(scheduler.unplaceable(&"linux build".to_owned()), None, "not queued");
}

#[test]
fn scheduling_rules_ask_for_labels_that_the_agent_must_have() {
    let require = BTreeMap::from([("hw".to_owned(), "apple".to_owned())]);
    let rule = SchedRule::new(&[("target.os", "MacOS|IOS")], require).unwrap();
    let mut scheduler = Scheduler::new(vec![rule]);
    scheduler.connect(agent("plain", &[MACOS], 1));
    let mut ios = demand("ios", "dev", MACOS);
    ios.attributes.insert("target.os".into(), "IOS".into());
    let mut other = demand("other", "dev", MACOS);
    // The pattern matches the whole value: `IOS_SIMULATOR` is not `IOS`.
    other.attributes.insert("target.os".into(), "IOS_SIMULATOR".into());
    scheduler.enqueue(ios);
    scheduler.enqueue(other);

    assert_eq!(taken(&mut scheduler, "plain").as_deref(), Some("other"));
    let why = scheduler.unplaceable(&"ios".to_owned()).unwrap();
    assert_eq!(why.to_string(), format!("no agent of template {MACOS} has the labels hw=apple"));
    let mut apple = agent("apple", &[MACOS], 1);
    apple.labels.insert("hw".into(), "apple".into());
    scheduler.connect(apple);
    assert_eq!(scheduler.unplaceable(&"ios".to_owned()), None);
    assert_eq!(taken(&mut scheduler, "apple").as_deref(), Some("ios"));
}

#[test]
fn an_invalid_pattern_is_an_error() {
    assert!(SchedRule::new(&[("target.os", "Mac(")], BTreeMap::new()).is_err());
}

#[test]
fn the_head_integration_first_then_the_branch_with_least_running_then_the_oldest() {
    let mut scheduler = Scheduler::new(Vec::new());
    scheduler.connect(agent("big", &[LINUX], 4));
    for key in ["dev 1", "dev 2", "dev 3"] {
        scheduler.enqueue(demand(key, "dev", LINUX));
    }
    let mut speculative = demand("6.8 behind the head", "6.8", LINUX);
    speculative.depth = 1;
    scheduler.enqueue(speculative);
    scheduler.enqueue(demand("6.8 head", "6.8", LINUX));

    let order: Vec<String> = (0..4).filter_map(|_| taken(&mut scheduler, "big")).collect();
    // dev 1 is oldest; then 6.8 has nothing running; then dev again, as 6.8's next is behind
    // its head.
    assert_eq!(order, ["dev 1", "6.8 head", "dev 2", "dev 3"]);
    assert_eq!(scheduler.take("big"), None, "four slots, four running");
    scheduler.release(&"dev 2".to_owned());
    assert_eq!(taken(&mut scheduler, "big").as_deref(), Some("6.8 behind the head"));
}

#[test]
fn a_bigger_machine_takes_more_slots_and_at_most_a_whole_agent() {
    let mut scheduler = Scheduler::new(Vec::new());
    scheduler.connect(agent("two", &[LINUX], 2));
    let mut big = demand("VMSize16", "dev", LINUX);
    big.slots = 4;
    scheduler.enqueue(demand("small", "dev", LINUX));
    scheduler.enqueue(big);

    assert_eq!(taken(&mut scheduler, "two").as_deref(), Some("small"));
    assert_eq!(scheduler.take("two"), None, "one slot free, the big one needs the whole agent");
    assert_eq!(scheduler.unplaceable(&"VMSize16".to_owned()), None, "it waits for room");
    scheduler.release(&"small".to_owned());
    let placed = scheduler.take("two").unwrap();
    assert_eq!((placed.demand.key.as_str(), placed.slots), ("VMSize16", 2));
}

#[test]
fn a_lost_agent_gives_back_its_work_and_a_cancelled_item_leaves_the_queue() {
    let mut scheduler = Scheduler::new(Vec::new());
    scheduler.connect(agent("a", &[LINUX], 2));
    scheduler.enqueue(demand("one", "dev", LINUX));
    scheduler.enqueue(demand("two", "dev", LINUX));
    scheduler.enqueue(demand("three", "dev", LINUX));
    assert!(scheduler.take("a").is_some() && scheduler.take("a").is_some());
    assert_eq!(scheduler.cancel(&"three".to_owned()).map(|d| d.key), Some("three".into()));
    assert_eq!(scheduler.queued(), 0);

    let mut lost: Vec<String> = scheduler.disconnect("a").into_iter().map(|d| d.key).collect();
    lost.sort();
    assert_eq!(lost, ["one", "two"]);
    assert_eq!(scheduler.placed(), 0);
    // Queued again by the caller, they go to the next agent.
    scheduler.connect(agent("b", &[LINUX], 1));
    scheduler.enqueue(demand("one", "dev", LINUX));
    assert_eq!(taken(&mut scheduler, "b").as_deref(), Some("one"));
    assert_eq!(scheduler.take("a"), None, "a disconnected agent takes nothing");
}

#[test]
fn this_machines_slots_serve_every_template() {
    let mut scheduler = Scheduler::new(Vec::new());
    scheduler.connect(agent("local", &[ANY_TEMPLATE], 2));
    scheduler.enqueue(demand("mac build", "dev", MACOS));
    scheduler.enqueue(demand("linux build", "dev", LINUX));
    assert_eq!(taken(&mut scheduler, "local").as_deref(), Some("mac build"));
    assert_eq!(taken(&mut scheduler, "local").as_deref(), Some("linux build"));
    assert_eq!(scheduler.load("local"), Some((2, 2)));
}

#[test]
fn work_adopted_after_a_restart_counts_on_its_agent_when_it_comes_back() {
    let mut scheduler = Scheduler::new(Vec::new());
    scheduler.adopt(demand("running", "dev", LINUX), "a");
    scheduler.enqueue(demand("next", "dev", LINUX));
    scheduler.connect(agent("a", &[LINUX], 1));
    assert_eq!(scheduler.load("a"), Some((1, 1)));
    assert_eq!(scheduler.take("a"), None, "its one slot runs the adopted work item");
    scheduler.release(&"running".to_owned());
    assert_eq!(taken(&mut scheduler, "a").as_deref(), Some("next"));
}
