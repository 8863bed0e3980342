//! `tollgate agent`: a machine that runs work items for a controller.
//!
//! The agent pulls: it registers, then long-polls the controller for work (an idle agent
//! waits in a held request and uses no CPU). Each offer is a lease; every poll is a heartbeat
//! for the leases it runs, and the controller's answer names those that are not the agent's
//! any more, which it drops. A run ends with its report, delivered until the controller takes
//! or refuses it: across a restart of the controller, or a broken link, as long as the lease
//! lives. A drain (SIGTERM, or the operator's `tollgate agent drain`) takes nothing new and
//! ends once what runs has reported; a halt stops at once.
//!
//! - `host.rs`: what this machine is.
//! - `client.rs`: the controller's agent routes (and its reads, for `tollgate reproduce`).
//! - `local.rs`: this machine's sources and store, fetched from the controller.
//! - `work.rs`: one leased work item, from offer to report.
//! - `log_stream.rs`: its log, sent as it grows.
//! - `pinned.rs`: the sources as the controller planned them.

mod client;
pub mod host;
mod local;
mod log_stream;
mod pinned;
mod work;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tollgate_api::{AgentHello, AgentOffer, AgentPoll, AgentWelcome};
use tollgate_runner::{Runner, RunnerOptions, Sandbox};
use tollgate_sources::SourcesDir;
use tollgate_state::DataDirLock;
use tollgate_store::LocalStore;

use crate::work::Machine;

pub use crate::client::{CallError, Client};
pub use crate::local::{Local, find};

/// How an agent runs (`tollgate agent`'s flags).
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// The controller: `http://ci.example.org:8080`.
    pub server: String,
    /// The secret of a token with role `agent`.
    pub token: Option<String>,
    pub name: String,
    /// Coin's `Template`s this machine serves.
    pub templates: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub slots: u32,
    /// Sources, the local store (a cache by digest), logs.
    pub data_dir: PathBuf,
    pub work_dir: Option<PathBuf>,
    /// Host folders every work item may write, such as a compiler cache.
    pub writable: Vec<PathBuf>,
    pub sandbox: bool,
}

/// What stops an agent: `drain` finishes what runs first, `halt` does not wait.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    pub drain: CancellationToken,
    pub halt: CancellationToken,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Setup(String),
    /// The token is wrong or revoked: an operator must mend it.
    #[error("{0}")]
    Unauthorized(String),
}

/// The longest a poll is held: the controller holds it at most 30 s.
const LONGEST_POLL: Duration = Duration::from_secs(30);
/// The longest wait between attempts to reach a controller that is down.
const LONGEST_BACKOFF: Duration = Duration::from_secs(5);

/// Runs the agent until it is drained or halted.
pub async fn run(options: AgentOptions, stop: Stop) -> Result<(), AgentError> {
    fn setup(what: &'static str) -> impl Fn(String) -> AgentError {
        move |error| AgentError::Setup(format!("{what}: {error}"))
    }
    let data = &options.data_dir;
    // A second agent on the same folder would remove this one's workspaces at its start.
    let _lock =
        DataDirLock::acquire(data).map_err(|e| setup("the data directory")(e.to_string()))?;
    tollgate_git::check_version().map_err(|e| setup("git")(e.to_string()))?;
    let mut runner_options = RunnerOptions::new(data);
    if let Some(work_dir) = &options.work_dir {
        runner_options.work_root = work_dir.clone();
        runner_options.hidden.push(work_dir.clone());
    }
    runner_options.writable = options.writable.clone();
    tollgate_runner::stale_runs(&runner_options.work_root, &runner_options.scratch).await;
    let sandbox = match options.sandbox {
        true => Sandbox::bubblewrap().await.map_err(|error| {
            AgentError::Setup(format!("{error}; install bubblewrap, or run with --no-sandbox"))
        })?,
        false => {
            tracing::warn!("no sandbox: work items run with this user's rights on this machine");
            Sandbox::Off
        }
    };
    // A cache for this run: results and archives are the controller's to keep.
    let store = LocalStore::open_cache(&data.join("store"))
        .map_err(|e| setup("the store")(e.to_string()))?;
    let store = Arc::new(store);
    let sources = Arc::new(SourcesDir::new(data.join("sources")));
    let runner = Runner::new(store.clone(), sources.clone(), sandbox, runner_options);
    let client =
        Client::new(&options.server, options.token.as_deref()).map_err(setup("the client"))?;
    let machine = Arc::new(Machine {
        name: options.name.clone(),
        local: Local::new(client, store, sources, data.clone()),
        runner,
        plans: std::sync::Mutex::new(Vec::new()),
    });
    let info = host::info(&options.name, &options.templates, &options.labels, options.slots);
    Agent {
        machine,
        info,
        runs: HashMap::new(),
        tasks: JoinSet::new(),
        leases: HashMap::new(),
        stop,
    }
    .pull()
    .await
}

struct Agent {
    machine: Arc<Machine>,
    info: tollgate_api::AgentInfo,
    /// The leases being run or reported, each with what cancels it.
    runs: HashMap<i64, CancellationToken>,
    tasks: JoinSet<()>,
    /// The lease each task runs.
    leases: HashMap<tokio::task::Id, i64>,
    stop: Stop,
}

impl Agent {
    async fn pull(mut self) -> Result<(), AgentError> {
        let mut registered = false;
        let mut draining = false;
        let mut heartbeat = LONGEST_POLL;
        let mut backoff = Duration::from_millis(200);
        let server = self.machine.local.client.server().to_owned();
        loop {
            while let Some(ended) = self.tasks.try_join_next_with_id() {
                self.ended(ended);
            }
            if self.stop.halt.is_cancelled() {
                tracing::warn!(running = self.runs.len(), "halted: what ran is dropped");
                self.tasks.shutdown().await;
                return Ok(());
            }
            if self.stop.drain.is_cancelled() && !draining {
                tracing::info!(
                    running = self.runs.len(),
                    "draining: finishing what runs, taking nothing new"
                );
                draining = true;
            }
            if draining && self.runs.is_empty() {
                tracing::info!("drained");
                return Ok(());
            }
            let answer = match registered {
                false => {
                    let hello = AgentHello { info: self.info.clone(), running: self.running() };
                    self.machine.local.client.register(&hello).await.map(|welcome| (welcome, None))
                }
                true => {
                    let poll = AgentPoll {
                        name: self.info.name.clone(),
                        running: self.running(),
                        wait_ms: heartbeat.as_millis() as u64,
                        draining,
                    };
                    let polled = self.machine.local.client.poll(&poll);
                    // A poll is cut short only while draining or halting, when the controller
                    // offers nothing: a poll dropped otherwise could lose an offer.
                    tokio::select! {
                        polled = polled => polled.map(|p| (p.welcome, p.offer)),
                        Some(ended) = self.tasks.join_next_with_id(), if draining => {
                            self.ended(ended);
                            continue;
                        }
                        () = self.stop.halt.cancelled() => continue,
                        () = self.stop.drain.cancelled(), if !draining => continue,
                    }
                }
            };
            match answer {
                Ok((welcome, offer)) => {
                    if !registered {
                        tracing::info!(server, name = self.info.name, "registered");
                        registered = true;
                    }
                    backoff = Duration::from_millis(200);
                    heartbeat = self.welcome(&welcome);
                    if welcome.drain && !draining {
                        tracing::info!("the controller asks this agent to drain");
                        self.stop.drain.cancel();
                    }
                    if let Some(offer) = offer {
                        self.start(offer);
                    }
                }
                Err(CallError::Unauthorized(message)) => {
                    self.tasks.shutdown().await;
                    return Err(AgentError::Unauthorized(format!(
                        "{server} refused this agent's token: {message}"
                    )));
                }
                Err(CallError::Refused { status: 403, message }) => {
                    self.tasks.shutdown().await;
                    return Err(AgentError::Unauthorized(format!("{server} refused: {message}")));
                }
                Err(CallError::Refused { status: 409, message }) if registered => {
                    // A restarted controller, or one that lost this agent for a while.
                    tracing::info!(message, "registering again");
                    registered = false;
                }
                Err(error) => {
                    tracing::warn!(%error, ?backoff, "cannot reach the controller");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.stop.halt.cancelled() => {}
                        () = self.stop.drain.cancelled(), if !draining => {}
                    }
                    backoff = (backoff * 2).min(LONGEST_BACKOFF);
                }
            }
        }
    }

    fn running(&self) -> Vec<i64> {
        let mut running: Vec<i64> = self.runs.keys().copied().collect();
        running.sort_unstable();
        running
    }

    /// Drops the leases the controller took away; answers how often to heartbeat: three
    /// times a lease term, so that one lost heartbeat never loses a lease.
    fn welcome(&mut self, welcome: &AgentWelcome) -> Duration {
        // Runs that ended while the poll was on its way are not dropped: they reported.
        while let Some(ended) = self.tasks.try_join_next_with_id() {
            self.ended(ended);
        }
        for lease in &welcome.drop {
            if let Some(cancel) = self.runs.get(lease) {
                tracing::warn!(lease, "the lease was taken away: its run is dropped");
                cancel.cancel();
            }
        }
        (Duration::from_millis(welcome.lease_ms) / 3)
            .clamp(Duration::from_millis(100), LONGEST_POLL)
    }

    fn start(&mut self, offer: AgentOffer) {
        let lease = offer.lease;
        let cancel = self.stop.halt.child_token();
        self.runs.insert(lease, cancel.clone());
        let machine = self.machine.clone();
        let task = self.tasks.spawn(async move { work::run(&machine, offer, cancel).await });
        self.leases.insert(task.id(), lease);
    }

    /// A run's task ended: its lease is not heartbeated any more.
    fn ended(&mut self, ended: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let id = match ended {
            Ok((id, ())) => id,
            Err(error) => {
                tracing::error!(%error, "a run's task failed");
                error.id()
            }
        };
        if let Some(lease) = self.leases.remove(&id) {
            self.runs.remove(&lease);
        }
    }
}
