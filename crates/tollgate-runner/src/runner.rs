//! Running one planned work item on the local hypervisor, from start to record.
//!
//! 1. **Reuse.** The build key is looked up in the store; a passed result is reused with its
//!    artifacts, and nothing runs.
//! 2. **Workspace.** A fresh one, with the module's sources at `{{.SourceDir}}` (an export of
//!    its tree, or a git clone for `tags: [git]`).
//! 3. **Dependencies.** The module archives (`artifacts.tar.gz`) of the builds it depends on are
//!    unpacked into `{{.AgentWorkingDir}}`, so that they land under `{{.InstallDir}}`, as Coin
//!    does before the Build instructions run.
//! 4. **Instructions.** The core's `Session` decides, the agent performs.
//! 5. **Record.** The log and the archives go into the store under the build key, with the
//!    result. An error (the system's fault) is not recorded as a result: the next run tries
//!    again. The workspace is removed unless kept for debugging.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::task::spawn_blocking;
use tokio_util::sync::CancellationToken;
use tollgate_api::TestOutcome;
use tollgate_core::plan::{Plan, WorkItem};
use tollgate_core::run::{
    Action, Failure, Layout, Note, Outcome, Report, Session, Step, Timeout, provided_variables,
};
use tollgate_sources::SourcesDir;
use tollgate_store::{Record, RecordFailure, RecordOutcome, Store};

use crate::agent::Agent;
use crate::log::{Log, Observer};
use crate::sandbox::Overlay;
use crate::sandbox::Sandbox;
use crate::tree_cache::{Made, TreeCache};
use crate::workspace::Workspace;

/// How the runner works; one per hypervisor.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// Where workspaces are made.
    pub work_root: PathBuf,
    /// Where logs are written while they grow.
    pub log_root: PathBuf,
    /// Where the runner keeps temporary archives, outside every workspace.
    pub scratch: PathBuf,
    /// Keep each workspace after its work item, for debugging.
    pub keep_workspaces: bool,
    /// The most bytes one work item's log may hold.
    pub log_cap: u64,
    /// `{{.NumCPU}}`.
    pub num_cpu: u32,
    /// Host folders every work item may write, such as a compiler cache.
    pub writable: Vec<PathBuf>,
    /// Host folders no work item may see, even read-only: the data folder with the other work
    /// items' workspaces and logs, the store.
    pub hidden: Vec<PathBuf>,
    /// The agent's login environment: what every work item starts with.
    pub agent_env: BTreeMap<String, String>,
    /// Where the tree cache keeps each source tree once (see [`crate::tree_cache`]), and the
    /// most bytes it may hold.
    pub tree_cache: PathBuf,
    pub tree_cache_limit: u64,
    /// A project whose trees have at most this many paths is written into each workspace
    /// instead of mounted from the tree cache: for a handful of files the copy costs less than
    /// the mount namespace and its processes.
    pub copy_trees_up_to: u64,
}

/// A few dozen files: writing them is cheaper than a mount namespace with its processes.
pub const COPY_TREES_UP_TO: u64 = 64;

/// The tree cache's default size: a few dozen trees of a large project, or their layers.
pub const DEFAULT_TREE_CACHE_LIMIT: u64 = 10 << 30;

/// The default log cap: enough for a verbose Qt build, not for a runaway loop.
pub const DEFAULT_LOG_CAP: u64 = 256 << 20;

impl RunnerOptions {
    /// Workspaces and logs under `data_dir`, the agent environment from this process's `PATH`.
    pub fn new(data_dir: &std::path::Path) -> RunnerOptions {
        let mut agent_env = BTreeMap::new();
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        agent_env.insert("PATH".to_owned(), path);
        agent_env.insert("LANG".to_owned(), "C.UTF-8".to_owned());
        agent_env.insert("SHELL".to_owned(), "/bin/sh".to_owned());
        RunnerOptions {
            work_root: data_dir.join("work"),
            log_root: data_dir.join("logs"),
            scratch: data_dir.join("tmp"),
            keep_workspaces: false,
            log_cap: DEFAULT_LOG_CAP,
            num_cpu: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            writable: Vec::new(),
            hidden: vec![data_dir.to_owned()],
            agent_env,
            tree_cache: data_dir.join("trees"),
            tree_cache_limit: DEFAULT_TREE_CACHE_LIMIT,
            copy_trees_up_to: COPY_TREES_UP_TO,
        }
    }
}

/// Whether a passed result the store holds under the build key stands for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// It does: nothing runs (the gate, `run-item`).
    Stored,
    /// It does not: the work item runs anyway (a failed test re-run to tell a flake, the
    /// work item `tollgate reproduce` reproduces).
    Never,
}

/// The end of a work item.
#[derive(Debug)]
pub struct Finished {
    pub outcome: Outcome,
    /// A stored passed result was reused; nothing ran.
    pub reused: bool,
    /// What the store holds for the build key now.
    pub record: Option<Record>,
    /// The log file as written (not there when reused).
    pub log: Option<PathBuf>,
    /// The workspace, when kept.
    pub workspace: Option<PathBuf>,
}

pub struct Runner {
    store: Arc<dyn Store>,
    sources: Arc<SourcesDir>,
    sandbox: Sandbox,
    options: RunnerOptions,
    /// Opened on the first work item that can use it; `None` inside when it cannot be used on
    /// this machine (no sandbox, no overlayfs, the folder unusable), said once in the log.
    trees: OnceLock<Option<TreeCache>>,
    /// overlayfs failed once: the cache is not used again by this runner.
    overlay_failed: AtomicBool,
}

impl Runner {
    pub fn new(
        store: Arc<dyn Store>,
        sources: Arc<SourcesDir>,
        sandbox: Sandbox,
        options: RunnerOptions,
    ) -> Runner {
        Runner {
            store,
            sources,
            sandbox,
            options,
            trees: OnceLock::new(),
            overlay_failed: AtomicBool::new(false),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Runs `item` of `plan`. `branch` is the integration's branch, when there is one.
    /// `observer` hears of the log as it is written; `reuse` says whether a stored passed
    /// result stands for the run.
    pub async fn run(
        &self,
        plan: &Plan,
        item: &WorkItem,
        branch: Option<&str>,
        cancel: &CancellationToken,
        observer: Option<Observer>,
        reuse: Reuse,
    ) -> Finished {
        let log_path = self.log_path(item);
        self.run_logged(plan, item, branch, cancel, observer, log_path, reuse).await
    }

    /// Where `run` writes the log of a fresh run of `item`.
    fn log_path(&self, item: &WorkItem) -> PathBuf {
        self.options.log_root.join(format!("{}-{}.log", item.build_key.to_hex(), unix_ms()))
    }

    /// `run`, with the log written at `log_path`: the controller names the file before the
    /// run starts, so that the log can be followed while it grows.
    #[allow(clippy::too_many_arguments)] // run's, and where the log goes
    pub async fn run_logged(
        &self,
        plan: &Plan,
        item: &WorkItem,
        branch: Option<&str>,
        cancel: &CancellationToken,
        observer: Option<Observer>,
        log_path: PathBuf,
        reuse: Reuse,
    ) -> Finished {
        if reuse == Reuse::Never {
            return self.run_anew(plan, item, branch, cancel, observer, log_path).await;
        }
        let key = item.build_key;
        let store = self.store.clone();
        match blocking(move || store.record(&key)).await {
            Ok(Some(record)) if record.outcome == RecordOutcome::Passed => {
                if let Some(Observer::Lines(observer)) = &observer {
                    let _ = observer.send(format!(
                        "reused the passed result of {} (build key {key})\n",
                        record.work_item
                    ));
                }
                return Finished {
                    outcome: Outcome::Passed,
                    reused: true,
                    record: Some(record),
                    log: None,
                    workspace: None,
                };
            }
            Ok(_) => {}
            Err(message) => {
                return Finished::error(item, &format!("cannot read the store: {message}"));
            }
        }
        self.run_anew(plan, item, branch, cancel, observer, log_path).await
    }

    /// Runs `item` on a fresh machine whatever the store holds, its log at `log_path`, and
    /// stores its result.
    async fn run_anew(
        &self,
        plan: &Plan,
        item: &WorkItem,
        branch: Option<&str>,
        cancel: &CancellationToken,
        observer: Option<Observer>,
        log_path: PathBuf,
    ) -> Finished {
        let started = unix_ms();
        let log = match Log::create(&log_path, self.options.log_cap, observer) {
            Ok(log) => log,
            Err(error) => {
                return Finished::error(
                    item,
                    &format!("cannot create the log {}: {error}", log_path.display()),
                );
            }
        };
        let (outcome, agent) = self.run_fresh(plan, item, branch, cancel, &log).await;
        let outcome = match log.failure() {
            Some(message) => Outcome::Error(failure_at(item, &message)),
            None => outcome,
        };
        let (record, workspace) = self.finish(item, started, outcome.clone(), agent, &log).await;
        let outcome = match &record {
            Err(message) => Outcome::Error(failure_at(item, message)),
            Ok(_) => outcome,
        };
        Finished {
            outcome,
            reused: false,
            record: record.ok().flatten(),
            log: Some(log_path),
            workspace,
        }
    }

    /// Everything between the workspace's creation and the last instruction.
    async fn run_fresh(
        &self,
        plan: &Plan,
        item: &WorkItem,
        branch: Option<&str>,
        cancel: &CancellationToken,
        log: &Log,
    ) -> (Outcome, Option<Agent>) {
        let Some(configuration) =
            plan.configurations.iter().find(|c| c.config.id == item.id.config)
        else {
            return (Outcome::Error(failure_at(item, "the work item is not in the plan")), None);
        };
        log.sys(&format!("work item {} (build key {})", item.id, item.build_key));
        if !self.sandbox.is_on() {
            log.sys(
                "WARNING: no sandbox: the work item runs with this user's rights on this machine",
            );
        }
        let workspace = match Workspace::create(
            &self.options.work_root,
            &item.id.to_string(),
            &item.id.project,
            self.options.num_cpu,
            self.sandbox.is_on(),
        ) {
            Ok(workspace) => workspace,
            Err(error) => {
                let message = format!(
                    "cannot create a workspace under {}: {error}",
                    self.options.work_root.display()
                );
                return (Outcome::Error(failure_at(item, &message)), None);
            }
        };
        log.sys(&format!("workspace {}", workspace.root().display()));
        let network = configuration.config.has_feature("Network");
        let mut agent = self.agent(workspace, log, network, branch);
        if let Err(error) = std::fs::create_dir_all(&self.options.scratch) {
            let message = format!("cannot create {}: {error}", self.options.scratch.display());
            return (Outcome::Error(failure_at(item, &message)), Some(agent));
        }
        match self.dependency_records(plan, item).await {
            Ok(records) => agent.dependencies = records,
            Err(message) => return (Outcome::Error(failure_at(item, &message)), Some(agent)),
        }
        if let Err(report) = self.prepare(item, &mut agent).await {
            let outcome = match report {
                Report::Failed(message) => Outcome::Failed(failure_at(item, &message)),
                Report::Cancelled => Outcome::Cancelled,
                other => Outcome::Error(failure_at(item, &format!("{other:?}"))),
            };
            return (outcome, Some(agent));
        }

        let mut env = self.options.agent_env.clone();
        env.insert("HOME".to_owned(), agent.workspace.home().to_owned());
        env.insert("USER".to_owned(), "qt".to_owned());
        if !self.sandbox.is_on() {
            env.insert(
                "TMPDIR".to_owned(),
                agent.workspace.tmp_dir().to_string_lossy().into_owned(),
            );
        }
        env.extend(provided_variables(plan, item));
        if let Some(branch) = branch {
            env.insert("TESTED_MODULE_BRANCH_COIN".to_owned(), branch.to_owned());
        }
        let layout: Layout = agent.workspace.layout().clone();
        let mut session = Session::new(configuration, item, layout, env);
        let verdict = loop {
            if cancel.is_cancelled() {
                session.cancel();
            }
            match session.step() {
                Step::Act { instruction, action } => {
                    log.sys(&format!(
                        "{} {} ({})",
                        instruction.kind.type_name(),
                        what(&action),
                        instruction.location
                    ));
                    let start = Instant::now();
                    let report = agent.perform(&action, cancel).await;
                    log.sys(&format!(
                        "{} after {:.3} s",
                        describe(&report),
                        start.elapsed().as_secs_f64()
                    ));
                    session.finish(report);
                }
                Step::Note { instruction, note } => match note {
                    Note::Applied(text) => {
                        log.sys(&format!("{} {text}", instruction.kind.type_name()))
                    }
                    Note::Failed(failure) => log.sys(&format!("failed: {failure}")),
                    Note::Skipped | Note::SkippedAfterFailure => {}
                },
                Step::Done(verdict) => break verdict,
            }
        };
        agent.stop_background().await;
        if verdict.upload_test_results {
            self.upload_test_results(&mut agent).await;
        }
        (verdict.outcome, Some(agent))
    }

    fn agent(&self, workspace: Workspace, log: &Log, network: bool, branch: Option<&str>) -> Agent {
        Agent::new(
            workspace,
            self.sandbox.clone(),
            self.store.clone(),
            self.sources.clone(),
            log.clone(),
            network,
            self.options.writable.clone(),
            self.options.hidden.clone(),
            self.options.scratch.clone(),
            branch.map(str::to_owned),
        )
    }

    /// The passed records of the builds `item` depends on. A missing one is a scheduling
    /// error: the caller runs dependencies first.
    async fn dependency_records(
        &self,
        plan: &Plan,
        item: &WorkItem,
    ) -> Result<Vec<Record>, String> {
        let mut records = Vec::new();
        for id in &item.depends_on {
            let Some(dependency) = plan.work_item(id) else {
                return Err(format!("{id}, which it depends on, is not in the plan"));
            };
            let (store, key) = (self.store.clone(), dependency.build_key);
            match blocking(move || store.record(&key)).await {
                Ok(Some(record)) if record.outcome == RecordOutcome::Passed => records.push(record),
                Ok(_) => {
                    return Err(format!("{id}, which it depends on, has not passed; run it first"));
                }
                Err(message) => return Err(format!("cannot read the store: {message}")),
            }
        }
        Ok(records)
    }

    /// Sources into `{{.SourceDir}}`, then the dependencies' module archives into
    /// `{{.AgentWorkingDir}}`.
    async fn prepare(&self, item: &WorkItem, agent: &mut Agent) -> Result<(), Report> {
        let layout = agent.workspace.layout().clone();
        let source_dir = agent.workspace.plain_path(&layout.source_dir).map_err(Report::Error)?;
        let project = item.module.project.as_str();
        let cached = match self.tree_cache() {
            Some(cache)
                if !item.git_clone && !cache.is_small(project, self.options.copy_trees_up_to) =>
            {
                self.mount_sources(cache, item, agent, &source_dir).await?
            }
            _ => None,
        };
        match cached {
            Some(how) => agent.log.sys(&format!(
                "sources of {} in {} from the tree cache ({how})",
                item.module, layout.source_dir
            )),
            None => {
                let (sources, pin, clone) =
                    (self.sources.clone(), item.module.clone(), item.git_clone);
                spawn_blocking(move || match clone {
                    true => sources.export_clone(&pin, &source_dir),
                    false => sources.export(&pin, &source_dir),
                })
                .await
                .map_err(|e| Report::Error(e.to_string()))?
                .map_err(|e| {
                    Report::Error(format!("cannot export the sources of {}: {e}", item.module))
                })?;
                agent.log.sys(&format!("sources of {} in {}", item.module, layout.source_dir));
            }
        }
        for record in &agent.dependencies {
            let Some(digest) = record.artifacts.get("artifacts.tar.gz") else {
                agent.log.sys(&format!(
                    "{} stored no module archive; nothing to install",
                    record.work_item
                ));
                continue;
            };
            agent.install(digest, agent.workspace.work_dir()).await?;
            agent.log.sys(&format!("installed the build of {} ({digest})", record.work_item));
        }
        Ok(())
    }

    /// The tree cache, opened on first use; `None` where it cannot serve: without the sandbox
    /// (there is no mount namespace to put the copy-on-write mount in), with kept workspaces
    /// (a kept workspace must hold its sources after the mount is gone), or when its folder
    /// cannot be used. Each is said once in the service's log.
    fn tree_cache(&self) -> Option<&TreeCache> {
        let opened = self.trees.get_or_init(|| {
            if !self.sandbox.is_on() {
                tracing::warn!("no sandbox: each work item's sources are copied in full (no tree cache)");
                return None;
            }
            if self.options.keep_workspaces {
                tracing::info!("workspaces are kept: each work item's sources are copied in full");
                return None;
            }
            let (root, limit) = (&self.options.tree_cache, self.options.tree_cache_limit);
            match TreeCache::open(root, limit) {
                Ok(cache) => Some(cache),
                Err(error) => {
                    tracing::warn!(path = %root.display(), %error, "the tree cache cannot be used; sources are copied in full");
                    None
                }
            }
        });
        opened.as_ref().filter(|_| !self.overlay_failed.load(Ordering::Relaxed))
    }

    /// The item's tree from the cache, mounted copy-on-write at `source_dir`: how it was found
    /// or made. `None` when overlayfs cannot be mounted here (said once; every later work item
    /// copies its sources in full).
    async fn mount_sources(
        &self,
        cache: &TreeCache,
        item: &WorkItem,
        agent: &mut Agent,
        source_dir: &std::path::Path,
    ) -> Result<Option<String>, Report> {
        let (cache, sources) = (cache.clone(), self.sources.clone());
        let (pin, tree) = (item.module.clone(), item.tree.clone());
        let lease =
            blocking(move || cache.lease(&sources, &pin, &tree)).await.map_err(Report::Error)?;
        let layer = agent.workspace.sources_layer_dir();
        let (upper, work) = (layer.join("upper"), layer.join("work"));
        for dir in [&upper, &work, &source_dir.to_owned()] {
            std::fs::create_dir_all(dir)
                .map_err(|e| Report::Error(format!("cannot create {}: {e}", dir.display())))?;
        }
        let lower = lease.lower.clone();
        let target = source_dir.to_owned();
        let mounted = blocking(move || Overlay::mount(&lower, &upper, &work, &target)).await;
        match mounted {
            Ok(overlay) => {
                let how = describe_made(&lease.how);
                agent.workspace.set_sources(overlay, lease);
                Ok(Some(how))
            }
            Err(error) => {
                if !self.overlay_failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "overlayfs cannot be mounted here; each work item's sources are copied in full");
                }
                agent.log.sys(&format!("no tree cache: {error}"));
                Ok(None)
            }
        }
    }

    /// `ScheduleUploadTestResults`: `{{.AgentWorkingDir}}/testresults`, also after a failure.
    async fn upload_test_results(&self, agent: &mut Agent) {
        let results = agent.workspace.work_dir().join("testresults");
        if !results.is_dir() {
            agent.log.sys("no test results to upload");
            return;
        }
        let action = Action::Upload {
            directory: format!("{}/testresults", agent.workspace.layout().agent_working_dir),
            transfer: "GenericArtifactWithName".to_owned(),
            name: Some("testresults.tar.gz".to_owned()),
            filter_list: None,
        };
        let report = agent.perform(&action, &CancellationToken::new()).await;
        if report != Report::Done {
            agent.log.sys(&format!("the test results were not uploaded: {report:?}"));
        }
        let (tests, unread) = blocking(move || Ok::<_, String>(crate::results::read_dir(&results)))
            .await
            .unwrap_or_default();
        for file in unread {
            agent.log.sys(&format!("test results not read: {file}"));
        }
        let failed = tests.iter().filter(|t| t.outcome == TestOutcome::Failed).count();
        let skipped = tests.iter().filter(|t| t.outcome == TestOutcome::Skipped).count();
        agent.log.sys(&format!(
            "test results: {} tests, {failed} failed, {skipped} skipped",
            tests.len()
        ));
        agent.tests = tests;
    }

    /// Stores the log and the record; removes the workspace unless kept. Returns the record
    /// (none for an error) and the kept workspace.
    async fn finish(
        &self,
        item: &WorkItem,
        started: u64,
        outcome: Outcome,
        mut agent: Option<Agent>,
        log: &Log,
    ) -> (Result<Option<Record>, String>, Option<PathBuf>) {
        log.sys(&format!("{} {}", item.id, summary(&outcome)));
        let artifacts = agent.as_ref().map(|a| a.artifacts.clone()).unwrap_or_default();
        let tests = agent.as_mut().map(|a| std::mem::take(&mut a.tests)).unwrap_or_default();
        let workspace = agent.map(|agent| agent.workspace);
        if let (Some(workspace), true) = (&workspace, self.options.keep_workspaces) {
            log.sys(&format!("the workspace is kept: {}", workspace.root().display()));
        }
        // Removing the workspace and storing the result do not depend on each other: on a slow
        // disk, doing both at once saves a work item's latency.
        let removed = async {
            match workspace {
                Some(workspace) if self.options.keep_workspaces => {
                    Some(workspace.root().to_owned())
                }
                Some(workspace) => {
                    let root = workspace.root().to_owned();
                    let removal = blocking(move || workspace.remove().map_err(|e| e.to_string()));
                    if let Err(error) = removal.await {
                        // The log may be sealed and stored by now: the operator's log says it.
                        tracing::warn!(workspace = %root.display(), error, "could not remove a workspace");
                        log.sys(&format!(
                            "could not remove the workspace {}: {error}",
                            root.display()
                        ));
                    }
                    None
                }
                None => None,
            }
        };
        let stored = async {
            // The system's fault is not a result of the build key: nothing is recorded.
            let Some(record_outcome) = RecordOutcome::of(&outcome) else { return Ok(None) };
            let failure = match &outcome {
                Outcome::Failed(failure) => Some(RecordFailure::from(failure)),
                _ => None,
            };
            let (store, path, key, id) =
                (self.store.clone(), log.path().to_owned(), item.build_key, item.id.to_string());
            // Nothing more goes into the log: the store may keep the file itself.
            log.seal();
            blocking(move || {
                let log = store.put_finished_file(&path)?;
                let record = Record {
                    outcome: record_outcome,
                    failure,
                    artifacts,
                    log: Some(log),
                    work_item: id,
                    started_unix_ms: started,
                    finished_unix_ms: unix_ms(),
                    tests,
                };
                store.put_record(&key, &record)?;
                Ok::<_, tollgate_store::StoreError>(Some(record))
            })
            .await
        };
        let (kept, stored) = tokio::join!(removed, stored);
        (stored, kept)
    }
}

impl Finished {
    fn error(item: &WorkItem, message: &str) -> Finished {
        Finished {
            outcome: Outcome::Error(failure_at(item, message)),
            reused: false,
            record: None,
            log: None,
            workspace: None,
        }
    }
}

/// A failure of the work item as a whole, placed at its module file.
fn failure_at(item: &WorkItem, message: &str) -> Failure {
    let file = tollgate_core::diagnostic::FileRef::new(
        item.module.clone(),
        tollgate_core::source::RepoPath::new("coin/module_config.yaml").expect("constant path"),
    );
    Failure {
        location: tollgate_core::diagnostic::Location { file, position: Default::default() },
        instruction: "work item",
        message: message.to_owned(),
        user_message: None,
    }
}

/// What an action does, in a few words for the log.
fn what(action: &Action) -> String {
    match action {
        Action::Execute(execute) | Action::RunTests { execute, .. } => {
            let argv = execute.argv.join(" ");
            match execute.in_background {
                true => format!("{argv} (in the background)"),
                false => argv,
            }
        }
        Action::EnvironmentFromScript { execute } => execute.argv.join(" "),
        Action::ChangeDirectory { path } | Action::MakeDirectory { path } => path.clone(),
        Action::WriteFile { path, .. } => path.clone(),
        Action::Rename { from, to } => format!("{from} {to}"),
        Action::Upload { directory, .. } => directory.clone(),
        Action::InstallArchive { directory, .. } | Action::InstallSources { directory, .. } => {
            directory.clone()
        }
        Action::UpdateRepos { repos } => repos.join(" "),
        Action::ParseEnvironmentFromFile { path, .. } => path.clone(),
        Action::CreateFileList { directory, .. } | Action::SignPackage { directory } => {
            directory.clone()
        }
    }
}

fn describe(report: &Report) -> String {
    match report {
        Report::Done | Report::Exited(0) => "done".to_owned(),
        Report::Exited(code) => format!("exited with code {code}"),
        Report::Signalled(signal) => format!("killed by signal {signal}"),
        Report::TimedOut(Timeout::Total) => {
            "stopped: it ran too long (maxTimeInSeconds)".to_owned()
        }
        Report::TimedOut(Timeout::Silence) => {
            "stopped: it printed nothing for too long (maxTimeBetweenOutput)".to_owned()
        }
        Report::Environment(vars) => format!("set {} variables", vars.len()),
        Report::Failed(message) => format!("failed: {message}"),
        Report::Error(message) => format!("error: {message}"),
        Report::Cancelled => "cancelled".to_owned(),
    }
}

pub fn summary(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Passed => "passed".to_owned(),
        Outcome::Failed(failure) => format!("failed: {failure}"),
        Outcome::Error(failure) => format!("error (not the change's fault): {failure}"),
        Outcome::Cancelled => "cancelled".to_owned(),
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, String> {
    match spawn_blocking(work).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(error) => Err(format!("an internal task failed: {error}")),
    }
}

fn describe_made(made: &Made) -> String {
    match made {
        Made::Cached => "cached".to_owned(),
        Made::Layer { paths, base } => format!("made now: {paths} paths changed over {base}"),
        Made::Full { paths } => format!("made now: exported in full, {paths} paths"),
    }
}
