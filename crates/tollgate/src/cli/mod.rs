//! Command-line arguments and the dispatch to each command.

mod plan;
mod plan_json;
mod plan_table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// The project to plan, by name: `qt/qtsvg`.
    pub project: String,
    /// A folder with one folder per project (`DIR/qt/qtbase`), each a git repository or a plain
    /// folder.
    #[arg(long, value_name = "DIR")]
    pub sources: PathBuf,
    /// The project whose `coin/platform_configs/` holds the configurations (`qt/qt5`). Without
    /// it, the project's own folder is used.
    #[arg(long, value_name = "PROJECT")]
    pub platforms_from: Option<String>,
    /// The revision of PROJECT to plan (a git repository's HEAD by default).
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
    /// The global revision salt that goes into every build key.
    #[arg(long, default_value = tollgate_core::plan::DEFAULT_SALT)]
    pub salt: String,
    /// Prints the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Plan(args) => plan::run(&args),
    }
}
