//! `tollgate plan`: what an integration of a project would run.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use tollgate_core::plan::{PlanRequest, plan};
use tollgate_core::source::{Pin, ProjectName, Source, SourceError};
use tollgate_sources::SourcesDir;

use super::{EXIT_SYSTEM, PlanArgs};

pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    if !args.sources.is_dir() {
        bail!("the sources folder `{}` does not exist", args.sources.display());
    }
    let sources = SourcesDir::new(args.sources.clone());
    let project = pin_of(&sources, &args.project, args.revision.as_deref())?;
    let platforms = match &args.platforms_from {
        Some(name) => Some(pin_of(&sources, name, None)?),
        None => None,
    };
    let request = PlanRequest { project, platforms, salt: args.salt.clone() };
    let plan = match plan(&sources, &request) {
        Ok(plan) => plan,
        Err(error) => {
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

/// A project of the sources folder at a revision: the one given, or its current one.
fn pin_of(sources: &SourcesDir, name: &str, revision: Option<&str>) -> anyhow::Result<Pin> {
    let Some(project) = ProjectName::new(name) else {
        bail!("`{name}` is not a project name (expected something like `qt/qtbase`)");
    };
    let revision = match revision {
        Some(reference) => sources.resolve(&project, reference),
        None => sources.head(&project),
    };
    let revision = revision.map_err(|error| match error {
        SourceError::UnknownProject(_) => {
            anyhow::anyhow!(
                "project `{project}` is not in {}",
                sources.root().join(project.as_str()).display()
            )
        }
        other => anyhow::Error::new(other),
    });
    Ok(Pin::new(project.clone(), revision.with_context(|| format!("cannot plan `{project}`"))?))
}
