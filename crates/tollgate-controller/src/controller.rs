//! The controller: everything the service's tasks share, and how it starts.
//!
//! Startup order matters: the data directory's lock comes first, so a second instance stops
//! before it touches anything; then the state, the store, the leftovers of a previous run, and
//! only then the tasks (one per gated branch, the poller, the HTTP server).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tollgate_runner::{Runner, RunnerOptions, Sandbox};
use tollgate_state::{DataDirLock, Db};
use tollgate_store::LocalStore;

use crate::agents::{LOCAL, Pool, Registry};
use crate::config::Config;
use crate::error::ControllerError;
use crate::maintenance::Upkeep;
use crate::mirrors::Mirrors;
use crate::tokens::Tokens;

pub struct Controller {
    pub(crate) config: Config,
    /// The runtime part of the configuration as last read (see `reload.rs`).
    pub(crate) runtime: crate::reload::Reloaded,
    pub(crate) db: Db,
    pub(crate) mirrors: Mirrors,
    pub(crate) upkeep: Upkeep,
    pub(crate) runner: Arc<Runner>,
    /// The agents, this machine's slots among them, and the work items waiting for them.
    pub(crate) pool: Pool,
    /// The remote agents heard from: what each is, when it was last heard.
    pub(crate) agents: Registry,
    /// The results by build key and their blobs, which agents fetch and upload.
    pub(crate) store: Arc<LocalStore>,
    /// The API's tokens, as every request is checked against them.
    pub(crate) tokens: Tokens,
    /// The logs followed over the API, woken by each write.
    pub(crate) logs: crate::log_watch::LogWatch,
    /// The counters and histograms of `/metrics`.
    pub(crate) metrics: crate::metrics::Metrics,
    /// The branches found stalled at the last look.
    pub(crate) stalls: crate::stall::Stalls,
    /// Every gated branch has its task: the service is ready.
    started: std::sync::atomic::AtomicBool,
    /// Wakes a branch's task: something was staged, or its integration was cancelled.
    wake: Mutex<HashMap<(String, String), Arc<Notify>>>,
    /// Branches whose task runs.
    /// The gated branches, each with the number of the task that gates it: a task whose
    /// branch was removed (or removed and added again) ends.
    branches: Mutex<HashMap<(String, String), u64>>,
    branch_tasks: std::sync::atomic::AtomicU64,
    /// Each branch's chain of unfinished integrations, head first, as its task last read it:
    /// how far from the head an integration runs.
    chains: Mutex<HashMap<(String, String), Chain>>,
    /// Cancels a running integration's work items.
    pub(crate) running: Mutex<HashMap<i64, CancellationToken>>,
    pub(crate) shutdown: CancellationToken,
    _lock: DataDirLock,
}

/// A branch's unfinished integrations, head first, for those who follow them.
type Chain = watch::Sender<Vec<i64>>;

/// A started service.
pub struct Service {
    pub controller: Arc<Controller>,
    /// Where the HTTP API listens.
    pub addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Service {
    /// Starts everything and binds the HTTP listener; returns once the API answers.
    pub async fn start(config: Config) -> Result<Service, ControllerError> {
        let lock = DataDirLock::acquire(&config.data_dir).map_err(|error| match error {
            locked @ tollgate_state::StateError::Locked { .. } => {
                ControllerError::Conflict(locked.to_string())
            }
            other => ControllerError::System(other.to_string()),
        })?;
        tollgate_git::check_version()?;
        let data = &config.data_dir;
        let db = Db::open(&data.join("state.sqlite")).await?;
        let tokens = crate::tokens::open(&db, &config).await?;
        let store = LocalStore::open(&data.join("store"))
            .map_err(|error| ControllerError::System(format!("the store: {error}")))?;
        let store = Arc::new(store);
        let mut options = RunnerOptions::new(data);
        if let Some(work_dir) = &config.work_dir {
            options.work_root = work_dir.clone();
            options.hidden.push(work_dir.clone());
        }
        options.writable = config.writable.clone();
        options.tree_cache_limit = config.tree_cache_size;
        tollgate_runner::stale_runs(&options.work_root, &options.scratch).await;
        let sandbox = match config.sandbox {
            true => Sandbox::bubblewrap().await.map_err(|error| {
                ControllerError::System(format!(
                    "{error}; install bubblewrap, or run without the sandbox (`sandbox = false`, `--no-sandbox`)"
                ))
            })?,
            false => {
                tracing::warn!("no sandbox: work items run with this user's rights on this machine");
                Sandbox::Off
            }
        };
        let mirrors = Mirrors::new(data.join("mirrors"));
        let runner =
            Arc::new(Runner::new(store.clone(), mirrors.sources().clone(), sandbox, options));
        for project in &config.projects {
            db.upsert_project(project).await?;
        }
        let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|error| {
            ControllerError::System(format!("cannot listen on {}: {error}", config.listen))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|error| ControllerError::System(format!("the listener: {error}")))?;
        let controller = Arc::new(Controller {
            pool: Pool::new(config.runtime.sched_rules.clone(), config.lease_term),
            runtime: crate::reload::Reloaded::new(&config),
            agents: Registry::default(),
            store,
            config,
            db,
            mirrors,
            upkeep: Upkeep::default(),
            runner,
            tokens,
            logs: Default::default(),
            metrics: Default::default(),
            stalls: Default::default(),
            started: std::sync::atomic::AtomicBool::new(false),
            wake: Mutex::new(HashMap::new()),
            branches: Mutex::new(HashMap::new()),
            branch_tasks: std::sync::atomic::AtomicU64::new(0),
            chains: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            _lock: lock,
        });
        controller.recover().await?;
        let projects = controller.db.projects().await?;
        // Before anything uses the mirrors: the refs a previous run no longer needed.
        for project in &projects {
            controller.sweep(project).await;
        }
        // Every mirror is fetched before any branch integrates: planning reads dependencies
        // and products from them.
        for project in &projects {
            if let Err(error) = controller.poll_project(project).await {
                tracing::warn!(project = project.spec.name, %error, "cannot fetch");
            }
        }
        for project in &projects {
            for branch in &project.spec.branches {
                controller.gate_branch(&project.spec.name, branch);
            }
        }
        controller.started.store(true, std::sync::atomic::Ordering::Release);
        tokio::spawn(crate::agents::local::run(controller.clone()));
        tokio::spawn(crate::agents::leases::expire_leases(controller.clone()));
        tokio::spawn(crate::staging::poll(controller.clone()));
        tokio::spawn(crate::maintenance::run(controller.clone()));
        tokio::spawn(crate::stall::watch(controller.clone()));
        tokio::spawn(crate::reload::watch(controller.clone()));
        let server = tokio::spawn(crate::http::serve(controller.clone(), listener));
        tracing::info!(%addr, data_dir = %controller.config.data_dir.display(), local_slots = controller.config.local_slots, "tollgate is serving");
        Ok(Service { controller, addr, server })
    }

    /// Stops the tasks; running work items are killed with their sandboxes.
    pub async fn stop(self) {
        self.controller.shutdown.cancel();
        self.server.abort();
        let _ = self.server.await;
        self.controller.db.close().await;
    }
}

impl Controller {
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Whether startup has gated every branch.
    pub(crate) fn is_started(&self) -> bool {
        self.started.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Starts the branch's task, once.
    pub(crate) fn gate_branch(self: &Arc<Self>, project: &str, branch: &str) {
        let key = (project.to_owned(), branch.to_owned());
        let mut branches = lock(&self.branches);
        if let std::collections::hash_map::Entry::Vacant(entry) = branches.entry(key.clone()) {
            let task = self.branch_tasks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            entry.insert(task);
            tokio::spawn(crate::branch::run(self.clone(), key.0, key.1, task));
        }
    }

    /// The branches a task gates now.
    pub(crate) fn gated_branches(&self) -> Vec<(String, String)> {
        lock(&self.branches).keys().cloned().collect()
    }

    /// Stops gating a branch: its task ends once it is between integrations.
    pub(crate) fn ungate_branch(&self, project: &str, branch: &str) {
        lock(&self.branches).remove(&(project.to_owned(), branch.to_owned()));
        self.wake(project, branch);
    }

    /// Whether `task` still gates the branch.
    pub(crate) fn gates(&self, project: &str, branch: &str, task: u64) -> bool {
        lock(&self.branches).get(&(project.to_owned(), branch.to_owned())) == Some(&task)
    }

    pub(crate) fn waker(&self, project: &str, branch: &str) -> Arc<Notify> {
        lock(&self.wake).entry((project.to_owned(), branch.to_owned())).or_default().clone()
    }

    pub(crate) fn wake(&self, project: &str, branch: &str) {
        self.waker(project, branch).notify_one();
    }

    /// The branch's chain of unfinished integrations, head first, as it changes.
    pub(crate) fn chain(&self, project: &str, branch: &str) -> watch::Receiver<Vec<i64>> {
        let key = (project.to_owned(), branch.to_owned());
        lock(&self.chains).entry(key).or_insert_with(|| watch::Sender::new(Vec::new())).subscribe()
    }

    /// The branch's task read its chain.
    pub(crate) fn publish_chain(&self, project: &str, branch: &str, chain: Vec<i64>) {
        let key = (project.to_owned(), branch.to_owned());
        let mut chains = lock(&self.chains);
        let sender = chains.entry(key).or_insert_with(|| watch::Sender::new(Vec::new()));
        sender.send_if_modified(|now| {
            let changed = *now != chain;
            *now = chain;
            changed
        });
    }

    /// After a restart: work items that were running on this machine when the previous
    /// controller stopped will run again; those leased to other agents wait for their
    /// agents' reports, for a lease term. Their integrations resume in their branch's task.
    async fn recover(&self) -> Result<(), ControllerError> {
        for lease in self.db.active_leases().await? {
            if lease.agent != LOCAL {
                let key =
                    crate::agents::WorkRef { integration: lease.integration, item: lease.item };
                let what = crate::agents::Leased {
                    key,
                    build_key: lease.build_key,
                    log_path: lease.log_path.map(Into::into).unwrap_or_default(),
                };
                self.pool.leases.adopt(lease.id, what, &lease.agent);
            }
        }
        for integration in self.db.unfinished().await? {
            let again = self.db.recover_items(&integration, LOCAL).await?;
            tracing::info!(
                integration = integration.id,
                state = integration.state.as_str(),
                run_again = again.len(),
                "resuming an integration of the previous run"
            );
        }
        Ok(())
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
