//! Which agent runs which work item: a pure scheduler over data.
//!
//! Agents pull work: when one asks, [`Scheduler::take`] picks the work item it should run
//! now, or none. A work item is queued only once it is ready (the work items it depends on
//! have passed), so dependencies come first by construction. Among the work items an agent
//! can run (it serves the template, has room for the machine size and the labels the
//! scheduling rules ask for), the choice is, in order:
//!
//! 1. the integration at the head of its branch before those behind it (`depth`), so that
//!    speculation never delays what merges next;
//! 2. fair share: the branch with the fewest work items running now, so that one busy branch
//!    cannot take every machine;
//! 3. the oldest in the queue.
//!
//! Work items wait in queues keyed by what decides who may run them (template, rule
//! requirements, size) and by branch, each in arrival order, so a decision peeks at the head
//! of a few queues, never at every queued work item.

mod queue;
mod rules;
mod speculation;
mod waiting;

pub use queue::{Placed, Scheduler};
pub use rules::{AttributeMatch, Requirements, SchedRule};
pub use speculation::{ParallelRule, PlatformClass, Speculation};
pub use waiting::Unplaceable;

use std::collections::BTreeMap;

/// A branch, for fair share: `project` and `branch`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BranchKey {
    pub project: String,
    pub branch: String,
}

/// A work item that is ready to run, as the scheduler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Demand<K> {
    /// What the caller knows the work item by (its integration and id).
    pub key: K,
    pub branch: BranchKey,
    /// 0 for the integration at the head of its branch, 1 for the one built on it, and so on.
    pub depth: u32,
    /// Coin's `Template`: only an agent that serves it may run the work item.
    pub template: String,
    /// Slots it takes on an agent (a bigger machine takes more).
    pub slots: u32,
    /// The configuration's attributes (`target.os`, `compiler`, ...) that scheduling rules
    /// match on.
    pub attributes: BTreeMap<String, String>,
}

/// A connected agent: what it serves and how much it can run at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentSpec {
    pub name: String,
    /// The templates it serves; [`ANY_TEMPLATE`] for every one (this machine's own slots, which
    /// run whatever the host has).
    pub templates: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub slots: u32,
}

/// Serves every template.
pub const ANY_TEMPLATE: &str = "*";

impl AgentSpec {
    pub fn serves(&self, template: &str) -> bool {
        self.templates.iter().any(|t| t == template || t == ANY_TEMPLATE)
    }

    fn serves_any(&self) -> bool {
        self.templates.iter().any(|t| t == ANY_TEMPLATE)
    }
}

#[cfg(test)]
mod tests;
