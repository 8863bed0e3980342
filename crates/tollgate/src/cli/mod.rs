//! Command-line arguments and the dispatch to each command.

mod agent;
mod cancel;
mod client;
mod demo;
mod events;
mod json_text;
mod log;
mod paths;
mod plan;
mod plan_json;
mod plan_table;
mod planning;
mod progress;
mod project;
mod quarantine;
mod rejection;
mod reproduce;
mod run_item;
mod serve;
mod setup;
mod stage;
mod status;
mod test_history;
mod text;
mod token;
mod unstage;
mod wait;
mod work_item;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use planning::SourceArgs;

/// Exit status for bad arguments, for inputs that cannot be found at all, and for requests the
/// service refuses (an unknown project, a change that is not staged).
pub const EXIT_USAGE: u8 = 2;
/// Exit status when the sources could not be read (a disk, a git process): nothing is known
/// about the change. Also when the service cannot be reached or fails.
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
    /// Runs the service: stages, integrates, tests and merges changes; an HTTP API on
    /// 127.0.0.1:8080.
    Serve(serve::ServeArgs),
    /// Plans an integration of PROJECT: its platform configurations and work items.
    Plan(PlanArgs),
    /// Runs one work item on this machine, in a sandbox, and prints its log as it grows.
    RunItem(RunItemArgs),
    /// Runs a work item of an integration on this machine as it ran in the gate: the
    /// integration's exact commit and pins, fetched from the service, and the builds it
    /// depends on from the service's store.
    Reproduce(reproduce::ReproduceArgs),
    /// Stages changes for a gated branch: they are integrated, tested, and merged or rejected.
    Stage(stage::StageArgs),
    /// Takes a staged change back before it is merged.
    Unstage(unstage::UnstageArgs),
    /// Cancels an integration; its changes go back to staged.
    Cancel(cancel::CancelArgs),
    /// Shows each gated branch: its queue, its integration running now and the recent ones.
    Status(status::StatusArgs),
    /// Prints a work item's log; with --follow, as it grows.
    Log(log::LogArgs),
    /// Shows a work item of an integration: how it ended and why, its build key, where its
    /// result came from, its archives and its tests.
    WorkItem(work_item::WorkItemArgs),
    /// Lists a project's tests that failed lately, per platform configuration: runs,
    /// failures, flakes forgiven by re-runs, rate.
    Tests(test_history::TestsArgs),
    /// Adds and lists the projects the service knows.
    Project(project::ProjectArgs),
    /// Prints the decision log: what the service decided and did.
    ///
    /// The newest events, one a line, printed oldest first so that the newest is the last
    /// line, as `tail` and `journalctl` show a log. `--before SEQ` shows the page before
    /// (stderr names it when there is one), `--follow` goes on printing events as they come.
    Events(events::EventsArgs),
    /// Quarantines tests: their failures do not reject until the entry ends (admins add and
    /// remove entries; anyone lists them).
    Quarantine(quarantine::QuarantineArgs),
    /// Adds, revokes and lists the API's tokens (with an admin token, once there is one).
    Token(token::TokenArgs),
    /// Runs work items for a controller on this machine: `tollgate agent --server URL
    /// --token-file FILE --template T`. `tollgate agent drain NAME` asks one to stop.
    Agent(agent::AgentArgs),
    /// Lists the agents: what each is, its state, what it runs, when it was last heard.
    Agents(agent::AgentsArgs),
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
    #[command(flatten)]
    pub here: HereArgs,
    /// The branch being integrated (`TESTED_MODULE_BRANCH_COIN`, `InstallSourceArchive`'s
    /// `CURRENT_BRANCH`).
    #[arg(long)]
    pub branch: Option<String>,
}

/// How work items run on this machine: `run-item`'s and `reproduce`'s flags.
#[derive(clap::Args, Debug)]
pub struct HereArgs {
    /// Where the store, the workspaces and the logs live [default: $XDG_DATA_HOME/tollgate or
    /// ~/.local/share/tollgate].
    #[arg(long, value_name = "DIR", value_parser = paths::absolute)]
    pub data_dir: Option<PathBuf>,
    /// Where workspaces are made [default: DATA_DIR/work]. A fast disk or a tmpfs makes small
    /// work items faster; the sources, the build and the install trees of a work item go there.
    #[arg(long, value_name = "DIR", value_parser = paths::absolute)]
    pub work_dir: Option<PathBuf>,
    /// Keeps the workspace afterwards, for debugging.
    #[arg(long)]
    pub keep_workspace: bool,
    /// Runs without the bubblewrap sandbox: the work item gets your rights on this machine.
    #[arg(long)]
    pub no_sandbox: bool,
    /// A host folder the work item may write (a compiler cache); may be repeated.
    #[arg(long, value_name = "DIR", value_parser = paths::absolute)]
    pub writable: Vec<PathBuf>,
    /// The most bytes the log may hold; output past it is dropped.
    #[arg(long, value_name = "BYTES")]
    pub log_cap: Option<u64>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Serve(args) => serve::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::RunItem(args) => run_item::run(&args),
        Command::Reproduce(args) => reproduce::run(&args),
        Command::Stage(args) => stage::run(&args),
        Command::Unstage(args) => unstage::run(&args),
        Command::Cancel(args) => cancel::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Log(args) => log::run(&args),
        Command::WorkItem(args) => work_item::run(&args),
        Command::Tests(args) => test_history::run(&args),
        Command::Project(args) => project::run(&args),
        Command::Events(args) => events::run(&args),
        Command::Quarantine(args) => quarantine::run(&args),
        Command::Token(args) => token::run(&args),
        Command::Agent(args) => agent::run(&args),
        Command::Agents(args) => agent::list(&args),
    }
}
