//! `tollgate run-item`: runs one work item of a plan on this machine, as the local hypervisor
//! does, and prints its log as it grows, so that a developer can reproduce a work item.
//!
//! The builds it depends on run first, each only if the store has no passed result for its
//! build key. Ctrl-C cancels: the running process tree is killed and the run ends.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tollgate_core::plan::{Plan, WorkItem, WorkItemId};
use tollgate_core::run::Outcome;
use tollgate_runner::{Reuse, Runner, RunnerOptions, Sandbox, summary};
use tollgate_sources::SourcesDir;
use tollgate_store::LocalStore;

use super::planning::{Planned, plan_project};
use super::{EXIT_SYSTEM, EXIT_USAGE, HereArgs, RunItemArgs};

/// Exit status of a run that was cancelled (as a shell reports Ctrl-C).
const EXIT_CANCELLED: u8 = 130;

pub fn run(args: &RunItemArgs) -> anyhow::Result<ExitCode> {
    let Some((project, _)) = args.work_item.split_once(':') else {
        bail!(
            "`{}` is not a work item (expected PROJECT:CONFIGURATION:KIND, as `tollgate plan --json` lists them)",
            args.work_item
        );
    };
    let (sources, plan) = match plan_project(&args.sources, project)? {
        Planned::Done(sources, plan) => (sources, plan),
        Planned::Unreadable(error) => {
            eprintln!("tollgate: could not read the sources: {error}");
            return Ok(ExitCode::from(EXIT_SYSTEM));
        }
    };
    if plan.has_errors() {
        for diagnostic in plan.diagnostics.iter().filter(|d| d.is_error()) {
            eprintln!("{diagnostic}");
        }
        eprintln!("tollgate: the plan of {project} has errors; an integration would be rejected");
        return Ok(ExitCode::FAILURE);
    }
    let Some(item) = plan.work_items().find(|item| item.id.to_string() == args.work_item) else {
        let known: Vec<String> = plan.work_items().map(|item| item.id.to_string()).collect();
        bail!(
            "no work item `{}` in the plan of {project}; it has:\n  {}",
            args.work_item,
            known.join("\n  ")
        );
    };
    let order = with_dependencies(&plan, item);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let here = match Here::open(&args.here) {
            Ok(here) => here,
            Err(code) => return Ok(code),
        };
        let sources = Arc::new(sources);
        here.run(&args.here, sources, &plan, &order, args.branch.as_deref(), false).await
    })
}

/// This machine's data directory, opened for running work items.
pub(super) struct Here {
    pub data_dir: PathBuf,
    pub store: Arc<LocalStore>,
}

impl Here {
    /// The data directory (`--data-dir`, or the user's) with its store; a store that cannot
    /// be opened is said, and is the system's failure.
    pub(super) fn open(args: &HereArgs) -> Result<Here, ExitCode> {
        let data_dir = match &args.data_dir {
            Some(dir) => dir.clone(),
            None => default_data_dir().map_err(|error| {
                eprintln!("tollgate: {error}");
                ExitCode::from(EXIT_USAGE)
            })?,
        };
        match LocalStore::open(&data_dir.join("store")) {
            Ok(store) => Ok(Here { data_dir, store: Arc::new(store) }),
            Err(error) => {
                eprintln!("tollgate: cannot open the store: {error}");
                Err(ExitCode::from(EXIT_SYSTEM))
            }
        }
    }

    /// Runs `order` one after the other, each log printed as it grows, and stops at the first
    /// that does not pass; its end is the exit status. Each is reused when the store has its
    /// passed result, but the last one runs `again` whatever the store holds.
    pub(super) async fn run(
        &self,
        args: &HereArgs,
        sources: Arc<SourcesDir>,
        plan: &Plan,
        order: &[&WorkItem],
        branch: Option<&str>,
        again: bool,
    ) -> anyhow::Result<ExitCode> {
        let sandbox = match args.no_sandbox {
            true => {
                eprintln!(
                    "tollgate: warning: no sandbox: work items run with your rights on this machine"
                );
                Sandbox::Off
            }
            false => Sandbox::bubblewrap().await?,
        };
        let mut options = RunnerOptions::new(&self.data_dir);
        options.keep_workspaces = args.keep_workspace;
        if let Some(dir) = &args.work_dir {
            options.work_root.clone_from(dir);
            // Other work items' workspaces are no work item's business, wherever they are.
            options.hidden.push(dir.clone());
        }
        options.writable.clone_from(&args.writable);
        if let Some(cap) = args.log_cap {
            options.log_cap = cap;
        }
        let runner = Runner::new(self.store.clone(), sources, sandbox, options);

        let cancel = CancellationToken::new();
        let on_interrupt = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_interrupt.cancel();
            }
        });
        for (n, item) in order.iter().enumerate() {
            eprintln!("tollgate: {}", item.id);
            let (lines, mut received) = mpsc::unbounded_channel::<String>();
            let printer = tokio::spawn(async move {
                let mut stdout = std::io::stdout();
                while let Some(line) = received.recv().await {
                    // A closed stdout (`| head`) stops the printing, not the work item.
                    if stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush()).is_err() {
                        break;
                    }
                }
            });
            let reuse = match again && n + 1 == order.len() {
                true => Reuse::Never,
                false => Reuse::Stored,
            };
            let finished = runner.run(plan, item, branch, &cancel, Some(lines.into()), reuse).await;
            let _ = printer.await;
            let what = match (finished.reused, &finished.log) {
                (true, _) => "reused".to_owned(),
                (false, Some(log)) => {
                    format!("{} (log: {})", summary(&finished.outcome), log.display())
                }
                (false, None) => summary(&finished.outcome),
            };
            eprintln!("tollgate: {} {what}", item.id);
            if let Some(workspace) = &finished.workspace {
                eprintln!("tollgate: its workspace is kept in {}", workspace.display());
            }
            match finished.outcome {
                Outcome::Passed => {}
                Outcome::Failed(_) => return Ok(ExitCode::FAILURE),
                Outcome::Error(_) => return Ok(ExitCode::from(EXIT_SYSTEM)),
                Outcome::Cancelled => return Ok(ExitCode::from(EXIT_CANCELLED)),
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `item` after the work items it needs, each once, dependencies first.
pub(super) fn with_dependencies<'p>(plan: &'p Plan, item: &'p WorkItem) -> Vec<&'p WorkItem> {
    fn visit<'p>(plan: &'p Plan, id: &WorkItemId, order: &mut Vec<&'p WorkItem>) {
        let Some(item) = plan.work_item(id) else { return };
        if order.iter().any(|done| done.id == *id) {
            return;
        }
        for dependency in &item.depends_on {
            visit(plan, dependency, order);
        }
        order.push(item);
    }
    let mut order = Vec::new();
    visit(plan, &item.id, &mut order);
    order
}

/// `$XDG_DATA_HOME/tollgate`, or `~/.local/share/tollgate`.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(std::path::absolute(PathBuf::from(dir).join("tollgate"))?);
    }
    let home = std::env::var_os("HOME")
        .context("neither XDG_DATA_HOME nor HOME is set; pass --data-dir")?;
    Ok(std::path::absolute(PathBuf::from(home).join(".local/share/tollgate"))?)
}
