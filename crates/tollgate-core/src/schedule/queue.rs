//! The queue of ready work items and the agents that take them.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use super::rules::{Requirements, SchedRule, requirements, satisfies};
use super::waiting::Unplaceable;
use super::{AgentSpec, BranchKey, Demand};

/// What decides who may run a work item: its template, what the rules require and its size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ClassKey {
    template: String,
    required: Requirements,
    slots: u32,
}

/// The queued work items of one class, per branch, each branch in (depth, arrival) order.
#[derive(Debug)]
struct Class<K> {
    key: ClassKey,
    branches: BTreeMap<BranchKey, BTreeMap<(u32, u64), Demand<K>>>,
}

#[derive(Debug)]
struct Agent {
    spec: AgentSpec,
    busy: u32,
}

/// Where a queued work item is.
#[derive(Clone, Debug)]
struct Queued {
    class: usize,
    branch: BranchKey,
    order: (u32, u64),
}

/// A work item given to an agent.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed<K> {
    pub demand: Demand<K>,
    pub agent: String,
    /// The agent's slots it takes: its size, at most all of them.
    pub slots: u32,
}

/// Ready work items and connected agents. See the module's documentation for the order.
#[derive(Debug)]
pub struct Scheduler<K> {
    rules: Vec<SchedRule>,
    agents: HashMap<String, Agent>,
    classes: Vec<Class<K>>,
    class_of: HashMap<ClassKey, usize>,
    by_template: HashMap<String, Vec<usize>>,
    queued: HashMap<K, Queued>,
    placed: HashMap<K, Placed<K>>,
    running: HashMap<BranchKey, u32>,
    arrivals: u64,
}

impl<K: Clone + Eq + Hash> Scheduler<K> {
    /// New rules, for the work items queued from now on; those queued keep their class.
    pub fn set_rules(&mut self, rules: Vec<SchedRule>) {
        self.rules = rules;
    }

    pub fn new(rules: Vec<SchedRule>) -> Scheduler<K> {
        Scheduler {
            rules,
            agents: HashMap::new(),
            classes: Vec::new(),
            class_of: HashMap::new(),
            by_template: HashMap::new(),
            queued: HashMap::new(),
            placed: HashMap::new(),
            running: HashMap::new(),
            arrivals: 0,
        }
    }

    /// An agent connected, or said again what it is: what it holds (placed, or adopted after
    /// a restart) stays counted.
    pub fn connect(&mut self, spec: AgentSpec) {
        let busy = self.placed.values().filter(|p| p.agent == spec.name).map(|p| p.slots).sum();
        self.agents.insert(spec.name.clone(), Agent { spec, busy });
    }

    /// A work item already running on `agent` (a restarted controller found its lease): it
    /// counts as placed there, whether or not the agent has connected again yet.
    pub fn adopt(&mut self, demand: Demand<K>, agent: &str) {
        if self.queued.contains_key(&demand.key) || self.placed.contains_key(&demand.key) {
            return;
        }
        let slots = match self.agents.get_mut(agent) {
            Some(known) => {
                let slots = weight(demand.slots, &known.spec);
                known.busy += slots;
                slots
            }
            None => demand.slots.max(1),
        };
        *self.running.entry(demand.branch.clone()).or_default() += 1;
        let key = demand.key.clone();
        self.placed.insert(key, Placed { demand, agent: agent.to_owned(), slots });
    }

    /// Busy and total slots of every connected agent together.
    pub fn total_load(&self) -> (u32, u32) {
        self.agents.values().fold((0, 0), |(busy, slots), agent| {
            (busy + agent.busy.min(agent.spec.slots), slots + agent.spec.slots)
        })
    }

    /// An agent's busy and total slots, if it is connected.
    pub fn load(&self, name: &str) -> Option<(u32, u32)> {
        self.agents.get(name).map(|agent| (agent.busy.min(agent.spec.slots), agent.spec.slots))
    }

    /// An agent is gone: the work items it held, which the caller runs again or not.
    pub fn disconnect(&mut self, name: &str) -> Vec<Demand<K>> {
        self.agents.remove(name);
        let lost: Vec<K> = self
            .placed
            .iter()
            .filter(|(_, placed)| placed.agent == name)
            .map(|(key, _)| key.clone())
            .collect();
        lost.into_iter().filter_map(|key| self.release(&key)).collect()
    }

    /// Queues a ready work item. A key already queued or placed is left as it is.
    pub fn enqueue(&mut self, demand: Demand<K>) {
        if self.queued.contains_key(&demand.key) || self.placed.contains_key(&demand.key) {
            return;
        }
        let key = ClassKey {
            template: demand.template.clone(),
            required: requirements(&self.rules, &demand.attributes),
            slots: demand.slots.max(1),
        };
        let class = match self.class_of.get(&key) {
            Some(class) => *class,
            None => {
                let class = self.classes.len();
                self.by_template.entry(key.template.clone()).or_default().push(class);
                self.class_of.insert(key.clone(), class);
                self.classes.push(Class { key, branches: BTreeMap::new() });
                class
            }
        };
        self.arrivals += 1;
        let order = (demand.depth, self.arrivals);
        let queued = Queued { class, branch: demand.branch.clone(), order };
        self.queued.insert(demand.key.clone(), queued);
        let branch = self.classes[class].branches.entry(demand.branch.clone()).or_default();
        branch.insert(order, demand);
    }

    /// Takes a queued work item out of the queue (its integration ended); `None` when it was
    /// not queued.
    pub fn cancel(&mut self, key: &K) -> Option<Demand<K>> {
        let queued = self.queued.remove(key)?;
        let branches = &mut self.classes[queued.class].branches;
        let waiting = branches.get_mut(&queued.branch)?;
        let demand = waiting.remove(&queued.order);
        if waiting.is_empty() {
            branches.remove(&queued.branch);
        }
        demand
    }

    /// The work item agent `name` runs next, if it can run any now.
    pub fn take(&mut self, name: &str) -> Option<Placed<K>> {
        let agent = self.agents.get(name)?;
        let free = agent.spec.slots.saturating_sub(agent.busy);
        if free == 0 {
            return None;
        }
        // The best head among the queues this agent may take from: (depth, running, arrival).
        let mut best: Option<((u32, u32, u64), usize, K)> = None;
        let every: Vec<usize>;
        let classes: Vec<&[usize]> = match agent.spec.serves_any() {
            true => {
                every = (0..self.classes.len()).collect();
                vec![&every]
            }
            false => agent
                .spec
                .templates
                .iter()
                .filter_map(|template| self.by_template.get(template).map(Vec::as_slice))
                .collect(),
        };
        for list in classes {
            for &class in list {
                let queues = &self.classes[class];
                if weight(queues.key.slots, &agent.spec) > free
                    || !satisfies(&agent.spec.labels, &queues.key.required)
                {
                    continue;
                }
                for (branch, waiting) in &queues.branches {
                    let Some((&(depth, arrival), demand)) = waiting.first_key_value() else {
                        continue;
                    };
                    let running = self.running.get(branch).copied().unwrap_or(0);
                    let rank = (depth, running, arrival);
                    if best.as_ref().is_none_or(|(best, ..)| rank < *best) {
                        best = Some((rank, class, demand.key.clone()));
                    }
                }
            }
        }
        let (_, class, key) = best?;
        let slots = weight(self.classes[class].key.slots, &agent.spec);
        let demand = self.cancel(&key).expect("the best head is queued");
        self.agents.get_mut(name).expect("looked up above").busy += slots;
        *self.running.entry(demand.branch.clone()).or_default() += 1;
        let placed = Placed { demand, agent: name.to_owned(), slots };
        self.placed.insert(key, placed.clone());
        Some(placed)
    }

    /// A placed work item ended (or its lease was taken away): its agent has room again.
    pub fn release(&mut self, key: &K) -> Option<Demand<K>> {
        let placed = self.placed.remove(key)?;
        if let Some(agent) = self.agents.get_mut(&placed.agent) {
            agent.busy = agent.busy.saturating_sub(placed.slots);
        }
        if let Some(running) = self.running.get_mut(&placed.demand.branch) {
            *running -= 1;
            if *running == 0 {
                self.running.remove(&placed.demand.branch);
            }
        }
        Some(placed.demand)
    }

    /// Why a queued work item cannot run on any connected agent, even an idle one; `None`
    /// when some agent could (it waits for room) or it is not queued. A machine bigger than
    /// every agent takes a whole one, as the local slots do.
    pub fn unplaceable(&self, key: &K) -> Option<Unplaceable> {
        let queued = self.queued.get(key)?;
        let class = &self.classes[queued.class].key;
        let serving: Vec<&AgentSpec> = self
            .agents
            .values()
            .map(|agent| &agent.spec)
            .filter(|spec| spec.serves(&class.template))
            .collect();
        if serving.is_empty() {
            return Some(Unplaceable::NoTemplate { template: class.template.clone() });
        }
        let labelled = serving.iter().any(|spec| satisfies(&spec.labels, &class.required));
        (!labelled).then(|| Unplaceable::NoLabels {
            template: class.template.clone(),
            required: class.required.clone(),
        })
    }

    /// Work items waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Work items placed on agents and not released yet.
    pub fn placed(&self) -> usize {
        self.placed.len()
    }
}

/// Slots a work item of `slots` takes on `agent`: at most all of them.
fn weight(slots: u32, agent: &AgentSpec) -> u32 {
    slots.clamp(1, agent.slots.max(1))
}
