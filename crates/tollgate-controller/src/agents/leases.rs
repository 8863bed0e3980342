//! The leases of remote agents, alive while their agents heartbeat.
//!
//! The state holds every lease durably; this holds what only a running controller needs: when
//! each one expires, and where its report goes. Expiry is kept here, not written on every
//! heartbeat: a restarted controller gives every active lease a full term again, which is
//! what an agent that reconnects needs to report.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tollgate_api::AgentReport;

use super::WorkRef;
use crate::controller::{Controller, lock};

/// A report that arrived under a live lease; `ack` answers the agent once it is recorded.
#[derive(Debug)]
pub(crate) struct Reported {
    pub report: AgentReport,
    pub ack: oneshot::Sender<Result<(), String>>,
}

/// A lease a restarted controller found active: its id, its agent, where its report comes.
pub(crate) type Adopted = (i64, String, oneshot::Receiver<Reported>);

/// What a lease is of: the work item, its build key (the report's record is stored under
/// it), and the log file the agent's pieces of log go to.
#[derive(Clone, Debug)]
pub(crate) struct Leased {
    pub key: WorkRef,
    pub build_key: String,
    pub log_path: PathBuf,
}

struct Live {
    what: Leased,
    agent: String,
    expires: Instant,
    report: oneshot::Sender<Reported>,
}

pub(crate) struct Leases {
    /// How long a lease lives without a heartbeat.
    pub(crate) term: Duration,
    live: Mutex<HashMap<i64, Live>>,
    /// Leases a restarted controller found active, until their integration's run takes them.
    adopted: Mutex<HashMap<WorkRef, Adopted>>,
}

/// Why a report is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotLive {
    /// The lease is not (or no longer) this agent's live one.
    Gone,
    /// A restarted controller has not taken up the lease's integration yet: ask again.
    NotYet,
}

impl Leases {
    pub fn new(term: Duration) -> Leases {
        Leases { term, live: Mutex::new(HashMap::new()), adopted: Mutex::new(HashMap::new()) }
    }

    /// A new lease of `key` to `agent`; its report arrives on the channel returned.
    pub fn issue(&self, lease: i64, what: Leased, agent: &str) -> oneshot::Receiver<Reported> {
        let (report, receiver) = oneshot::channel();
        let expires = Instant::now() + self.term;
        let live = Live { what, agent: agent.to_owned(), expires, report };
        lock(&self.live).insert(lease, live);
        receiver
    }

    /// A lease the state says is active, found by a restarted controller.
    pub fn adopt(&self, lease: i64, what: Leased, agent: &str) {
        let key = what.key.clone();
        let receiver = self.issue(lease, what, agent);
        lock(&self.adopted).insert(key, (lease, agent.to_owned(), receiver));
    }

    /// What `agent`'s live `lease` is of; `None` when it is not its live lease.
    pub fn leased(&self, lease: i64, agent: &str) -> Option<Leased> {
        let live = lock(&self.live);
        live.get(&lease).filter(|held| held.agent == agent).map(|held| held.what.clone())
    }

    /// The adopted lease of a work item, for its integration's run to wait on.
    pub fn take_adopted(&self, key: &WorkRef) -> Option<Adopted> {
        lock(&self.adopted).remove(key)
    }

    pub fn forget(&self, lease: i64) {
        lock(&self.live).remove(&lease);
    }

    /// `agent` is alive and says it runs `running`: its leases among them live a full term
    /// again. Returns those it names that are not its live leases: it must drop them.
    pub fn renew(&self, agent: &str, running: &[i64]) -> Vec<i64> {
        let expires = Instant::now() + self.term;
        let mut live = lock(&self.live);
        let mut stale = Vec::new();
        for lease in running {
            match live.get_mut(lease) {
                Some(held) if held.agent == agent => held.expires = expires,
                _ => stale.push(*lease),
            }
        }
        stale
    }

    /// The live leases of `agent`.
    pub fn of(&self, agent: &str) -> Vec<(i64, WorkRef)> {
        let live = lock(&self.live);
        live.iter()
            .filter(|(_, held)| held.agent == agent)
            .map(|(lease, held)| (*lease, held.what.key.clone()))
            .collect()
    }

    /// Where the report of `agent`'s live `lease` goes; the lease ends with it.
    pub fn report(&self, lease: i64, agent: &str) -> Result<oneshot::Sender<Reported>, NotLive> {
        let mut live = lock(&self.live);
        match live.get(&lease) {
            Some(held) if held.agent == agent => {
                let adopted = lock(&self.adopted).contains_key(&held.what.key);
                if adopted {
                    return Err(NotLive::NotYet);
                }
                Ok(live.remove(&lease).expect("looked up above").report)
            }
            _ => Err(NotLive::Gone),
        }
    }

    /// Ends the leases past their term: their work items' runs learn it when the report
    /// channel closes. Returns how many ended.
    pub fn expire(&self, now: Instant) -> usize {
        let mut live = lock(&self.live);
        let adopted = lock(&self.adopted);
        let before = live.len();
        // An adopted lease waits for its run to take it up before it can expire: the run is
        // what records the expiry.
        live.retain(|_, held| held.expires > now || adopted.contains_key(&held.what.key));
        before - live.len()
    }
}

/// Ends the remote leases past their term, once a second, until the service stops.
pub(crate) async fn expire_leases(controller: Arc<Controller>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let expired = controller.pool.leases.expire(tokio::time::Instant::now());
                if expired > 0 {
                    tracing::warn!(expired, "leases expired: their agents stopped heartbeating");
                }
                for agent in controller.agents.lose_silent(controller.pool.leases.term) {
                    tracing::warn!(agent, "agent lost: not heard from for a lease term");
                    controller.pool.disconnect(&agent);
                }
            }
            () = controller.shutdown.cancelled() => return,
        }
    }
}
