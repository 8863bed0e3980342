//! The scheduler at scale, in process: 2,000 agents with mixed templates, sizes and labels,
//! 100,000 queued work items on 20 branches. Agents ask for work in turn, each after its
//! oldest work item finished; every `take` is timed. Also the time to queue the 100,000 again (as after
//! a restart) and the process's peak memory.
//!
//! `cargo bench -p tollgate-core --bench schedule`. Environment: `TOLLGATE_BENCH_AGENTS`
//! (2000), `TOLLGATE_BENCH_QUEUED` (100000), `TOLLGATE_BENCH_DECISIONS` (200000).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use tollgate_core::schedule::{AgentSpec, BranchKey, Demand, SchedRule, Scheduler};

const TEMPLATES: usize = 40;
const BRANCHES: usize = 20;

/// A small deterministic generator: the same scenario every run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        println!("schedule: benchmark");
        return;
    }
    let number = |name: &str, default: usize| {
        std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
    };
    let agents = number("TOLLGATE_BENCH_AGENTS", 2000);
    let queued = number("TOLLGATE_BENCH_QUEUED", 100_000);
    let decisions = number("TOLLGATE_BENCH_DECISIONS", 200_000);
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let template = |n: usize| format!("qtci-template-{n:02}");
    let apple = BTreeMap::from([("hw".to_owned(), "apple".to_owned())]);
    let rules = vec![SchedRule::new(&[("target.os", "MacOS|IOS")], apple.clone()).unwrap()];

    let specs: Vec<AgentSpec> = (0..agents)
        .map(|n| {
            let templates = (0..1 + random.below(3)).map(|_| template(random.below(TEMPLATES)));
            AgentSpec {
                name: format!("agent-{n}"),
                templates: templates.collect(),
                labels: if n % 5 == 0 { apple.clone() } else { BTreeMap::new() },
                slots: [1, 2, 4, 8][random.below(4)],
            }
        })
        .collect();
    let demands: Vec<Demand<u64>> = (0..queued as u64)
        .map(|key| {
            let os = ["Linux", "Windows", "MacOS", "IOS", "Android"][random.below(5)];
            Demand {
                key,
                branch: BranchKey {
                    project: format!("qt/module-{}", random.below(BRANCHES / 4)),
                    branch: format!("dev-{}", random.below(4)),
                },
                depth: random.below(3) as u32,
                template: template(random.below(TEMPLATES)),
                slots: [1, 1, 1, 2, 4][random.below(5)],
                attributes: BTreeMap::from([("target.os".to_owned(), os.to_owned())]),
            }
        })
        .collect();

    let started = Instant::now();
    let mut scheduler = Scheduler::new(rules.clone());
    for spec in &specs {
        scheduler.connect(spec.clone());
    }
    for demand in &demands {
        scheduler.enqueue(demand.clone());
    }
    let filled = started.elapsed();

    // Agents ask in turn, each after the oldest work item it holds has finished, so every
    // decision has room to fill; what is placed is queued again as a new work item, so the
    // queue stays at its size.
    let mut times = Vec::with_capacity(decisions);
    let mut holding: Vec<VecDeque<u64>> = vec![VecDeque::new(); specs.len()];
    let mut next_key = queued as u64;
    let (mut given, mut empty) = (0usize, 0usize);
    for n in 0..decisions {
        let agent = n % specs.len();
        if let Some(done) = holding[agent].pop_front() {
            scheduler.release(&done);
        }
        let asked = Instant::now();
        let placed = scheduler.take(&specs[agent].name);
        times.push(asked.elapsed());
        match placed {
            Some(placed) => {
                given += 1;
                holding[agent].push_back(placed.demand.key);
                let mut again = placed.demand;
                again.key = next_key;
                next_key += 1;
                scheduler.enqueue(again);
            }
            None => empty += 1,
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];

    let restarted = Instant::now();
    let mut again = Scheduler::new(rules);
    for spec in &specs {
        again.connect(spec.clone());
    }
    for demand in &demands {
        again.enqueue(demand.clone());
    }
    let refilled = restarted.elapsed();

    println!("scheduler: {agents} agents, {queued} queued work items, {decisions} decisions");
    println!("  queue filled:     {:.0} ms", ms(filled));
    println!("  decisions:        {given} placed, {empty} found nothing to take");
    println!(
        "  one decision:     p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        us(at(0.5)),
        us(at(0.99)),
        us(*times.last().unwrap())
    );
    println!("  queue again:      {:.0} ms (as after a restart, from memory)", ms(refilled));
    println!("  peak memory:      {} (VmHWM)", peak_memory());
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn us(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000_000.0
}

fn peak_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .map_or("unknown".into(), |value| value.trim().to_owned())
}
