//! Planning a project from a sources folder: what `plan` prints and `run-item` runs.

use std::path::PathBuf;

use anyhow::{Context, bail};
use tollgate_core::plan::{Plan, PlanRequest, plan};
use tollgate_core::source::{Pin, ProjectName, Source, SourceError};
use tollgate_sources::SourcesDir;

#[derive(clap::Args, Debug)]
pub struct SourceArgs {
    /// A folder with one folder per project (`DIR/qt/qtbase`), each a git repository or a plain
    /// folder.
    #[arg(long, value_name = "DIR", value_parser = super::paths::absolute)]
    pub sources: PathBuf,
    /// The project whose `coin/platform_configs/` holds the configurations (`qt/qt5`). Without
    /// it, the project's own folder is used.
    #[arg(long, value_name = "PROJECT")]
    pub platforms_from: Option<String>,
    /// The revision of the project to plan (a git repository's HEAD by default).
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
    /// The global revision salt that goes into every build key.
    #[arg(long, default_value = tollgate_core::plan::DEFAULT_SALT)]
    pub salt: String,
}

pub enum Planned {
    Done(SourcesDir, Plan),
    /// The sources could not be read (a disk, a git process): nothing is known about the change.
    Unreadable(SourceError),
}

/// Plans `project`. Arguments that name nothing are usage errors.
pub fn plan_project(args: &SourceArgs, project: &str) -> anyhow::Result<Planned> {
    if !args.sources.is_dir() {
        bail!("the sources folder `{}` does not exist", args.sources.display());
    }
    let sources = SourcesDir::new(args.sources.clone());
    let project = pin_of(&sources, project, args.revision.as_deref())?;
    let platforms = match &args.platforms_from {
        Some(name) => Some(pin_of(&sources, name, None)?),
        None => None,
    };
    let request = PlanRequest { project, platforms, salt: args.salt.clone() };
    Ok(match plan(&sources, &request) {
        Ok(plan) => Planned::Done(sources, plan),
        Err(error) => Planned::Unreadable(error),
    })
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
