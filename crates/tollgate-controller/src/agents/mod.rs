//! Every machine that runs work items is an agent, this one's own slots included, and one
//! scheduler places work on all of them.
//!
//! A work item that is ready waits in the [`Pool`] (the core's pure `Scheduler` behind a
//! lock) until an agent takes it: the local agent's task takes as soon as it has room, a
//! remote agent when it polls. Taking it leases it: the state records the run under a new
//! lease (whose id fences the report), and the work item's task learns where it runs. A remote
//! agent keeps its leases alive with heartbeats; a lease not renewed in time expires, and the
//! work item runs again elsewhere as a system error, never the change's.

pub(crate) mod leases;
pub(crate) mod local;
pub(crate) mod offer;
mod registry;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tollgate_core::plan::{Plan, WorkItemId};
use tollgate_core::schedule::{AgentSpec, Demand, Scheduler, Unplaceable};
use tollgate_state::{Db, Formed};

use crate::controller::lock;

pub(crate) use leases::{Leased, Leases, NotLive, Reported};
pub(crate) use offer::offer;
pub(crate) use registry::{Registry, Seen};

/// The name of this machine's own slots as an agent.
pub(crate) const LOCAL: &str = "local";

/// A work item of an integration, as the scheduler knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct WorkRef {
    pub integration: i64,
    pub item: String,
}

/// What the agent that takes a work item needs to start it: the local runner runs the
/// plan's work item, a remote agent is offered what it needs to plan it again.
#[derive(Debug)]
pub(crate) struct Job {
    pub integration: Formed,
    pub plan: Arc<Plan>,
    pub item: WorkItemId,
    pub log_path: PathBuf,
    /// It runs whatever the store holds for its build key (a re-run of a failed test).
    pub again: bool,
}

/// Where a work item runs: its agent and its lease. A remote run's end arrives on `reports`.
#[derive(Debug)]
pub(crate) struct Assignment {
    pub agent: String,
    pub lease: i64,
    pub reports: Option<oneshot::Receiver<Reported>>,
}

struct Waiter {
    job: Arc<Job>,
    placed: oneshot::Sender<Result<Assignment, String>>,
}

struct Inner {
    scheduler: Scheduler<WorkRef>,
    waiting: HashMap<WorkRef, Waiter>,
}

pub(crate) struct Pool {
    inner: Mutex<Inner>,
    /// Wakes the agents waiting for work: something was queued, or room was made.
    changed: Notify,
    pub(crate) leases: Leases,
    /// Why queued work items wait, for those no connected agent can run.
    reasons: Mutex<HashMap<WorkRef, String>>,
}

/// A queued work item; dropping it takes it out of the queue.
pub(crate) struct Queued<'a> {
    pool: &'a Pool,
    key: WorkRef,
    pub placed: oneshot::Receiver<Result<Assignment, String>>,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let mut inner = lock(&self.pool.inner);
        inner.waiting.remove(&self.key);
        inner.scheduler.cancel(&self.key);
    }
}

impl Queued<'_> {
    pub fn key(&self) -> &WorkRef {
        &self.key
    }

    /// Why no connected agent can ever run it, if none can.
    pub fn unplaceable(&self) -> Option<Unplaceable> {
        lock(&self.pool.inner).scheduler.unplaceable(&self.key)
    }
}

impl Pool {
    /// Coin's `sched_rules`, read again: they apply to the work items queued from now on.
    pub fn set_rules(&self, rules: Vec<tollgate_core::schedule::SchedRule>) {
        lock(&self.inner).scheduler.set_rules(rules);
    }

    pub fn new(rules: Vec<tollgate_core::schedule::SchedRule>, lease: Duration) -> Pool {
        let inner = Inner { scheduler: Scheduler::new(rules), waiting: HashMap::new() };
        Pool {
            inner: Mutex::new(inner),
            changed: Notify::new(),
            leases: Leases::new(lease),
            reasons: Mutex::new(HashMap::new()),
        }
    }

    /// An agent connected or said again what it is.
    pub fn connect(&self, spec: AgentSpec) {
        lock(&self.inner).scheduler.connect(spec);
        self.changed.notify_waiters();
    }

    /// An agent is gone for good (drained, revoked): it takes nothing more.
    pub fn disconnect(&self, name: &str) {
        lock(&self.inner).scheduler.disconnect(name);
    }

    /// Queues a ready work item for the agents.
    pub fn enqueue(&self, demand: Demand<WorkRef>, job: Job) -> Queued<'_> {
        let (placed, receiver) = oneshot::channel();
        let key = demand.key.clone();
        {
            let mut inner = lock(&self.inner);
            inner.waiting.insert(key.clone(), Waiter { job: Arc::new(job), placed });
            inner.scheduler.enqueue(demand);
        }
        self.changed.notify_waiters();
        Queued { pool: self, key, placed: receiver }
    }

    /// A run on an agent ended (or was taken away): the agent has room again.
    pub fn release(&self, key: &WorkRef) {
        lock(&self.inner).scheduler.release(key);
        self.changed.notify_waiters();
    }

    /// A work item running on `agent` that a restarted controller took up again.
    pub fn adopt(&self, demand: Demand<WorkRef>, agent: &str) {
        lock(&self.inner).scheduler.adopt(demand, agent);
    }

    /// Busy and total slots of a connected agent.
    pub fn load(&self, agent: &str) -> Option<(u32, u32)> {
        lock(&self.inner).scheduler.load(agent)
    }

    /// Busy and total slots of every connected agent.
    pub fn total_load(&self) -> (u32, u32) {
        lock(&self.inner).scheduler.total_load()
    }

    /// Shows (or clears) why a queued work item waits for an agent that no connected one can be.
    pub fn set_waiting(&self, key: &WorkRef, why: Option<String>) {
        let mut reasons = lock(&self.reasons);
        match why {
            Some(why) => reasons.insert(key.clone(), why),
            None => reasons.remove(key),
        };
    }

    /// Why a work item waits, if no connected agent can run it.
    pub fn waiting(&self, key: &WorkRef) -> Option<String> {
        lock(&self.reasons).get(key).cloned()
    }

    /// The next work item `agent` runs, leased to it, or `None` when it cannot run any now.
    /// `remote` agents get a channel for their report and a lease that must be renewed.
    pub async fn take(&self, db: &Db, agent: &str, remote: bool) -> Option<(Arc<Job>, i64)> {
        loop {
            let (key, waiter) = {
                let mut inner = lock(&self.inner);
                let placed = inner.scheduler.take(agent)?;
                let key = placed.demand.key;
                match inner.waiting.remove(&key) {
                    Some(waiter) if !waiter.placed.is_closed() => (key, waiter),
                    _ => {
                        inner.scheduler.release(&key);
                        continue;
                    }
                }
            };
            let job = waiter.job.clone();
            let log = job.log_path.to_string_lossy().into_owned();
            let item = job.item.to_string();
            let lease = match db.item_started(&job.integration, &item, &log, agent).await {
                Ok(lease) => lease,
                Err(error) => {
                    self.release(&key);
                    let _ = waiter.placed.send(Err(format!("cannot record the start: {error}")));
                    continue;
                }
            };
            let reports = remote.then(|| {
                let build_key = job.plan.work_item(&job.item).map(|w| w.build_key.to_hex());
                let what = Leased {
                    key: key.clone(),
                    build_key: build_key.unwrap_or_default(),
                    log_path: job.log_path.clone(),
                };
                self.leases.issue(lease, what, agent)
            });
            let assignment = Assignment { agent: agent.to_owned(), lease, reports };
            if waiter.placed.send(Ok(assignment)).is_err() {
                // Its integration ended meanwhile.
                self.leases.forget(lease);
                let _ = db.end_lease(lease, tollgate_state::LeaseEnd::Released).await;
                self.release(&key);
                continue;
            }
            return Some((job, lease));
        }
    }

    /// Waits until something changed for the agents (`enable`d before the caller looks, so
    /// that nothing between the look and the wait is missed).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
}

/// The configuration's attributes that scheduling rules match on, named as Coin's
/// configuration files and conditions name them.
pub(crate) fn attributes(
    configuration: &tollgate_core::plan::ConfigurationPlan,
) -> BTreeMap<String, String> {
    let config = &configuration.config;
    let properties = &configuration.properties;
    let mut attributes = BTreeMap::new();
    let mut put = |name: &str, value: Option<&String>| {
        if let Some(value) = value {
            attributes.insert(name.to_owned(), value.clone());
        }
    };
    put("id", Some(&config.id));
    put("template", Some(&config.template));
    put("compiler", Some(&config.compiler));
    put("host.os", properties.host.os.as_ref());
    put("host.osVersion", properties.host.os_version.as_ref());
    put("host.arch", properties.host.arch.as_ref());
    put("host.compiler", properties.host.compiler.as_ref());
    put("target.os", properties.target.os.as_ref());
    put("target.osVersion", properties.target.os_version.as_ref());
    put("target.arch", properties.target.arch.as_ref());
    put("target.compiler", properties.target.compiler.as_ref());
    let features = config.features.join(" ");
    put("features", Some(&features));
    attributes
}
