//! `tollgate plan`: what an integration of a project would run.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;

use super::planning::{Planned, plan_project};
use super::{EXIT_SYSTEM, PlanArgs};

pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let plan = match plan_project(&args.sources, &args.project)? {
        Planned::Done(_, plan) => plan,
        Planned::Unreadable(error) => {
            eprintln!("tollgate: could not read the sources: {error}");
            return Ok(ExitCode::from(EXIT_SYSTEM));
        }
    };
    let out = if args.json {
        serde_json::to_string_pretty(&super::plan_json::plan(&plan))? + "\n"
    } else {
        super::plan_table::render(&plan)
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()) {
        // A reader that stopped early (`tollgate plan … | head`) is not an error.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {}
        written => written.context("cannot write the plan to stdout")?,
    }
    Ok(if plan.has_errors() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
