//! A sources folder with a small project, a store and a runner, all in a temporary folder.
//! Work items run for real: real processes, in bubblewrap unless a test turns it off.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tollgate_core::plan::{Plan, PlanRequest, WorkItem, plan};
use tollgate_core::run::Outcome;
use tollgate_core::source::{Pin, ProjectName, Revision};
use tollgate_runner::{Finished, Reuse, Runner, RunnerOptions, Sandbox};
use tollgate_sources::SourcesDir;
use tollgate_store::{LocalStore, Store};

/// The project every test plans.
pub const APP: &str = "demo/app";

pub struct Harness {
    pub dir: TempDir,
    pub store: Arc<LocalStore>,
    pub options: RunnerOptions,
    pub sandbox: Sandbox,
    /// The sources folder: one in `dir` unless a test points elsewhere.
    pub sources: Option<PathBuf>,
}

impl Harness {
    /// With bubblewrap, which must be installed (scripts/test installs it): a missing sandbox
    /// fails the test rather than skipping what it checks.
    pub async fn new() -> Harness {
        let sandbox = Sandbox::bubblewrap().await.expect("bubblewrap works on this machine");
        Harness::with(sandbox)
    }

    pub fn unsandboxed() -> Harness {
        Harness::with(Sandbox::Off)
    }

    fn with(sandbox: Sandbox) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::open(&dir.path().join("store")).unwrap());
        let mut options = RunnerOptions::new(&dir.path().join("data"));
        // The tests' projects are a handful of files; the tree cache's tests need them mounted.
        options.copy_trees_up_to = 0;
        Harness { dir, store, options, sandbox, sources: None }
    }

    pub fn sources(&self) -> PathBuf {
        self.sources.clone().unwrap_or_else(|| self.dir.path().join("sources"))
    }

    /// A folder outside every workspace, for side effects the tests look at.
    pub fn outside(&self) -> PathBuf {
        let dir = self.dir.path().join("outside");
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Writes a file of a project in the sources folder.
    pub fn file(&self, project: &str, path: &str, content: &str) {
        let path = self.sources().join(project).join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// `demo/app` with `instructions` (YAML list items, indented by four) as its Build, on one
    /// configuration `linux` with `features`.
    pub fn app(&self, features: &[&str], instructions: &str) {
        self.file(
            APP,
            "coin/module_config.yaml",
            &format!("version: 2\ninstructions:\n  Build:\n{instructions}"),
        );
        self.configurations(APP, &format!(
            "- Id: linux\n  Template: qtci-linux-Debian-12-x86_64-1\n  Compiler: GCC\n  Features: [{}]\n",
            features.join(", ")
        ));
    }

    pub fn configurations(&self, project: &str, configurations: &str) {
        let name = project.rsplit('/').next().unwrap();
        self.file(
            project,
            &format!("coin/platform_configs/{name}.yaml"),
            &format!("Version: 2\nConfigurations:\n{configurations}"),
        );
    }

    pub fn plan(&self, project: &str) -> Plan {
        let plan = self.plan_with_errors(project);
        let errors: Vec<String> =
            plan.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        plan
    }

    /// A plan that may carry errors, to see what running it anyway does.
    pub fn plan_with_errors(&self, project: &str) -> Plan {
        let sources = SourcesDir::new(self.sources());
        let pin = Pin::new(ProjectName::new(project).unwrap(), Revision::new("worktree"));
        plan(&sources, &PlanRequest { project: pin, platforms: None, salt: "t".into() }).unwrap()
    }

    pub fn runner(&self) -> Runner {
        let store: Arc<dyn Store> = self.store.clone();
        let sources = Arc::new(SourcesDir::new(self.sources()));
        Runner::new(store, sources, self.sandbox.clone(), self.options.clone())
    }

    /// Runs one work item (its dependencies must have passed) and returns its end and its log.
    pub async fn run(&self, plan: &Plan, id: &str) -> Run {
        self.run_with(plan, id, &CancellationToken::new()).await
    }

    pub async fn run_with(&self, plan: &Plan, id: &str, cancel: &CancellationToken) -> Run {
        let item = work_item(plan, id);
        let (sender, mut lines) = mpsc::unbounded_channel::<String>();
        let finished = self
            .runner()
            .run(plan, item, Some("dev"), cancel, Some(sender.into()), Reuse::Stored)
            .await;
        let mut live = String::new();
        while let Ok(line) = lines.try_recv() {
            live.push_str(&line);
        }
        let log = match &finished.log {
            Some(path) => fs::read_to_string(path).unwrap(),
            None => String::new(),
        };
        // What a live reader saw is the log itself.
        if finished.log.is_some() {
            assert_eq!(live, log);
        }
        Run { finished, log, live }
    }

    /// Plans `demo/app` and runs its Build on `linux`.
    pub async fn build(&self) -> Run {
        let plan = self.plan(APP);
        self.run(&plan, "demo/app:linux:Build").await
    }
}

pub fn work_item<'p>(plan: &'p Plan, id: &str) -> &'p WorkItem {
    plan.work_items().find(|item| item.id.to_string() == id).unwrap_or_else(|| {
        let ids: Vec<String> = plan.work_items().map(|i| i.id.to_string()).collect();
        panic!("no work item {id} in {ids:?}")
    })
}

pub struct Run {
    pub finished: Finished,
    pub log: String,
    /// What a live reader received.
    pub live: String,
}

impl Run {
    pub fn passed(&self) -> bool {
        self.finished.outcome == Outcome::Passed
    }

    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "{:?}\n{}", self.finished.outcome, self.log);
    }

    /// The failure's message, and the user message after `: `.
    #[track_caller]
    pub fn failure(&self) -> String {
        match &self.finished.outcome {
            Outcome::Failed(failure) => failure.to_string(),
            other => panic!("expected a failure, got {other:?}\n{}", self.log),
        }
    }

    #[track_caller]
    pub fn error(&self) -> String {
        match &self.finished.outcome {
            Outcome::Error(failure) => failure.to_string(),
            other => panic!("expected an error, got {other:?}\n{}", self.log),
        }
    }

    /// The text of the log's `out` lines.
    pub fn out(&self) -> Vec<&str> {
        // `<time> out <text>`
        self.log.lines().filter_map(|line| line.split_once(' ')?.1.strip_prefix("out ")).collect()
    }
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
