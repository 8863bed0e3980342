//! Command-line arguments and the dispatch to each command.

mod plan;
mod plan_json;
mod plan_table;
mod planning;
mod run_item;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use planning::SourceArgs;

/// Exit status for bad arguments, and for inputs that cannot be found at all.
pub const EXIT_USAGE: u8 = 2;
/// Exit status when the sources could not be read (a disk, a git process): nothing is known
/// about the change.
pub const EXIT_SYSTEM: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "tollgate",
    version,
    about = "A gating CI system that reads Qt's Coin configuration"
)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Plans an integration of PROJECT: its platform configurations and work items.
    Plan(PlanArgs),
    /// Runs one work item on this machine, in a sandbox, and prints its log as it grows.
    RunItem(RunItemArgs),
}

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// The project to plan, by name: `qt/qtsvg`.
    pub project: String,
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Prints the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RunItemArgs {
    /// The work item, as `tollgate plan` lists it: `demo/greeter:debian-12:Build`. The builds it
    /// depends on run first, unless the store has them.
    pub work_item: String,
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Where the store, the workspaces and the logs live [default: $XDG_DATA_HOME/tollgate or
    /// ~/.local/share/tollgate].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where workspaces are made [default: DATA_DIR/work]. A fast disk or a tmpfs makes small
    /// work items faster; the sources, the build and the install trees of a work item go there.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Keeps the workspace afterwards, for debugging.
    #[arg(long)]
    pub keep_workspace: bool,
    /// Runs without the bubblewrap sandbox: the work item gets your rights on this machine.
    #[arg(long)]
    pub no_sandbox: bool,
    /// A host folder the work item may write (a compiler cache); may be repeated.
    #[arg(long, value_name = "DIR")]
    pub writable: Vec<PathBuf>,
    /// The most bytes the log may hold; output past it is dropped.
    #[arg(long, value_name = "BYTES")]
    pub log_cap: Option<u64>,
    /// The branch being integrated (`TESTED_MODULE_BRANCH_COIN`, `InstallSourceArchive`'s
    /// `CURRENT_BRANCH`).
    #[arg(long)]
    pub branch: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Plan(args) => plan::run(&args),
        Command::RunItem(args) => run_item::run(&args),
    }
}
