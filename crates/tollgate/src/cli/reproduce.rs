//! `tollgate reproduce WORK_ITEM --integration N`: a work item of an integration, run on this
//! machine as it ran in the gate, so that a developer sees its failure with one command.
//!
//! The service says what the integration was planned from (its commit, the modules' pins, the
//! salt); the sources are fetched from the service's mirrors into `DATA_DIR/sources`, and the
//! integration planned again here, which must give the work item the build key the gate gave
//! it. The builds it depends on come from the service's store, archives and all; one the store
//! has lost is built here first. Then the work item runs, as `run-item` runs one, whatever
//! this machine's store holds for it.

use std::process::ExitCode;
use std::sync::Arc;

use tollgate_agent::{CallError, Client, Local, find};
use tollgate_api::{Reproduction, WorkItemState, routes};
use tollgate_core::plan::WorkItem;
use tollgate_sources::SourcesDir;
use tollgate_store::{Record, RecordOutcome, Store};

use super::client::ServerArgs;
use super::run_item::{Here, with_dependencies};
use super::text::short;
use super::{EXIT_SYSTEM, EXIT_USAGE, HereArgs};

#[derive(clap::Args, Debug)]
pub struct ReproduceArgs {
    /// The work item, as the integration lists it: `demo/app:linux:Test`.
    pub work_item: String,
    /// The integration it ran in (`tollgate status` and the pages name it).
    #[arg(long, value_name = "ID")]
    pub integration: i64,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub here: HereArgs,
}

pub fn run(args: &ReproduceArgs) -> anyhow::Result<ExitCode> {
    let token = args.server.token()?;
    let client =
        Client::reader(&args.server.server, token.as_deref()).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(reproduce(args, client))
}

async fn reproduce(args: &ReproduceArgs, client: Client) -> anyhow::Result<ExitCode> {
    let path = routes::reproduce(args.integration, &args.work_item);
    let wanted = match client.get::<Reproduction>(&path).await {
        Ok(wanted) => wanted,
        Err(error) => return Ok(refused(&args.server.server, &error)),
    };
    let project = &wanted.pins.project;
    eprintln!(
        "tollgate: {} of integration {} ({} {} at {}) {} in the gate",
        wanted.work_item,
        wanted.integration,
        project.project,
        wanted.branch,
        short(&project.revision),
        wanted.state.as_str()
    );
    if let Some(failure) = &wanted.failure {
        let user = failure.user_message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        eprintln!(
            "tollgate: there: {} at {}: {}{user}",
            failure.instruction, failure.location, failure.message
        );
    }
    let here = match Here::open(&args.here) {
        Ok(here) => here,
        Err(code) => return Ok(code),
    };
    let sources = Arc::new(SourcesDir::new(here.data_dir.join("sources")));
    let local = Local::new(client, here.store.clone(), sources.clone(), here.data_dir.clone());
    eprintln!(
        "tollgate: fetching {} from the service into {}",
        super::text::plural(wanted.pins.fetch.len(), "module"),
        sources.root().display()
    );
    let plan = match local.plan(&wanted.pins).await {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("tollgate: {message}");
            return Ok(ExitCode::from(EXIT_SYSTEM));
        }
    };
    let item = match find(&plan, &wanted.work_item, &wanted.build_key) {
        Ok(item) => item,
        Err(message) => {
            eprintln!("tollgate: {message}");
            return Ok(ExitCode::from(EXIT_SYSTEM));
        }
    };
    let order = with_dependencies(&plan, item);
    if let [dependencies @ .., _] = order.as_slice() {
        for dependency in dependencies {
            from_the_service(&local, dependency).await;
        }
    }
    let code = here.run(&args.here, sources, &plan, &order, Some(&wanted.branch), true).await?;
    if wanted.state == WorkItemState::Failed && code == ExitCode::SUCCESS {
        eprintln!(
            "tollgate: {} passed here but failed in the gate: a flaky test, or a difference between the machines",
            wanted.work_item
        );
    }
    Ok(code)
}

/// A build the work item depends on, from the service's store into this machine's, unless it
/// is here already; otherwise it is built here.
async fn from_the_service(local: &Local, dependency: &WorkItem) {
    let key = dependency.build_key;
    let store = local.store.clone();
    let here = tokio::task::spawn_blocking(move || store.record(&key)).await;
    if let Ok(Ok(Some(record))) = here
        && record.outcome == RecordOutcome::Passed
    {
        return;
    }
    let stored = local.client.get::<Record>(&routes::record(&key.to_hex())).await;
    let why = match stored {
        Ok(record) if record.outcome == RecordOutcome::Passed => {
            match local.seed(&key, record).await {
                Ok(()) => {
                    eprintln!("tollgate: {} comes from the service's store", dependency.id);
                    return;
                }
                Err(message) => message,
            }
        }
        Ok(_) => "the service's store has no passed result".to_owned(),
        Err(CallError::Refused { status: 404, .. }) => "the service's store has no result".into(),
        Err(error) => error.to_string(),
    };
    eprintln!("tollgate: {}: {why}; it is built here first", dependency.id);
}

/// What a refused or failed request says, and its exit status: the request's fault (an
/// unknown integration, a commit not kept) is a usage error, the service's is the system's.
fn refused(server: &str, error: &CallError) -> ExitCode {
    match error {
        CallError::Refused { message, .. } => {
            eprintln!("tollgate: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        CallError::Unauthorized(message) => {
            eprintln!("tollgate: {message}; pass --token-file with a token of the service");
            ExitCode::from(EXIT_USAGE)
        }
        CallError::Down(message) => {
            eprintln!("tollgate: the service at {server} did not answer: {message}");
            ExitCode::from(EXIT_SYSTEM)
        }
    }
}
