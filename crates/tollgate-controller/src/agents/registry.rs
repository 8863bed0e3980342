//! The agents this controller has heard from: what each said it is, when it was last heard,
//! whether it is asked to drain. An agent not heard from for a lease term is lost: it takes
//! nothing (it does not poll) and no longer counts as a machine that could run a template.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tollgate_api::AgentInfo;
use tollgate_core::schedule::AgentSpec;
use tollgate_state::now_ms;

use crate::controller::lock;

struct Entry {
    info: AgentInfo,
    /// The token it registered with: only that token speaks for it.
    token: Option<String>,
    first_seen: i64,
    last_seen: Instant,
    last_seen_ms: i64,
    draining: bool,
    lost: bool,
}

/// An agent as the operator sees it, before its work is added.
pub(crate) struct Seen {
    pub info: AgentInfo,
    pub first_seen: i64,
    pub last_seen: i64,
    pub draining: bool,
    pub lost: bool,
}

#[derive(Default)]
pub(crate) struct Registry {
    agents: Mutex<BTreeMap<String, Entry>>,
}

impl Registry {
    /// An agent registered: what the scheduler should know of it.
    pub fn register(&self, info: AgentInfo, first_seen: i64, token: Option<String>) -> AgentSpec {
        let spec = AgentSpec {
            name: info.name.clone(),
            templates: info.templates.clone(),
            labels: info.labels.clone(),
            slots: info.slots.max(1),
        };
        let entry = Entry {
            info,
            token,
            first_seen,
            last_seen: Instant::now(),
            last_seen_ms: now_ms(),
            draining: false,
            lost: false,
        };
        lock(&self.agents).insert(spec.name.clone(), entry);
        spec
    }

    /// Whether a request with `token` may speak for the agent `name`: the token it registered
    /// with. An agent not registered is not refused here: it is told to register.
    pub fn belongs(&self, name: &str, token: Option<&str>) -> bool {
        lock(&self.agents).get(name).is_none_or(|entry| entry.token.as_deref() == token)
    }

    /// The agent was heard from, `draining` or not: whether it drains (it said so, or it was
    /// asked to), or `None` when it has not registered with this controller (it must, after a
    /// restart, or once it was lost).
    pub fn seen(&self, name: &str, draining: bool) -> Option<bool> {
        let mut agents = lock(&self.agents);
        let entry = agents.get_mut(name)?;
        if entry.lost {
            return None;
        }
        entry.last_seen = Instant::now();
        entry.last_seen_ms = now_ms();
        entry.draining |= draining;
        Some(entry.draining)
    }

    /// Asks the agent to drain; `None` when there is no such agent.
    pub fn drain(&self, name: &str) -> Option<Seen> {
        let mut agents = lock(&self.agents);
        let entry = agents.get_mut(name).filter(|entry| !entry.lost)?;
        entry.draining = true;
        Some(entry.seen())
    }

    /// Marks the agents not heard from for `term` as lost; returns those newly lost.
    pub fn lose_silent(&self, term: Duration) -> Vec<String> {
        let now = Instant::now();
        let mut lost = Vec::new();
        for (name, entry) in lock(&self.agents).iter_mut() {
            if !entry.lost && now.duration_since(entry.last_seen) > term {
                entry.lost = true;
                lost.push(name.clone());
            }
        }
        lost
    }

    pub fn all(&self) -> Vec<Seen> {
        lock(&self.agents).values().map(Entry::seen).collect()
    }
}

impl Entry {
    fn seen(&self) -> Seen {
        Seen {
            info: self.info.clone(),
            first_seen: self.first_seen,
            last_seen: self.last_seen_ms,
            draining: self.draining,
            lost: self.lost,
        }
    }
}
