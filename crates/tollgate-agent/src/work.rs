//! One leased work item, from offer to report: the sources fetched where this machine lacks
//! them, the integration planned again (the build key must come out as the controller's), the
//! dependencies' archives fetched by digest, the run with the same runner as the controller's
//! own slots, the log and archives uploaded, and the report.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tollgate_api::{AgentOffer, AgentReport, FailureView, PlanPins, WorkItemState};
use tollgate_core::plan::{BuildKey, Plan, WorkItemId};
use tollgate_core::run::Outcome;
use tollgate_runner::{Finished, Observer, Reuse, Runner, failure_view};
use tollgate_store::Record;

use crate::client::CallError;
use crate::local::{Local, find};
use crate::log_stream;

/// What every run of this agent shares.
pub struct Machine {
    pub name: String,
    /// Where logs are written here (`DATA_DIR/logs`), the sources and the store.
    pub local: Local,
    pub runner: Runner,
    /// The integrations planned lately, newest last: an integration's work items come to an
    /// agent one after another, and each would plan it again.
    pub plans: std::sync::Mutex<Vec<(PlanPins, Arc<Plan>)>>,
}

/// How many plans an agent keeps: a few integrations at once.
const PLANS_KEPT: usize = 8;

/// Runs `offer` and reports it, unless `cancel` (the lease was taken away, or the agent
/// stops) comes first: then nothing is reported.
pub async fn run(machine: &Machine, offer: AgentOffer, cancel: CancellationToken) {
    let lease = offer.lease;
    tracing::info!(lease, item = offer.work_item, integration = offer.integration, "running");
    let Some(report) = prepare_and_run(machine, &offer, &cancel).await else { return };
    if cancel.is_cancelled() {
        return;
    }
    tracing::info!(lease, item = offer.work_item, state = ?report.state, "ran; reporting");
    deliver(machine, report, &cancel).await;
}

/// The report of the run, or `None` when it was cancelled while it was prepared. The run
/// itself stops on `cancel` as the runner does (its sandbox killed).
async fn prepare_and_run(
    machine: &Machine,
    offer: &AgentOffer,
    cancel: &CancellationToken,
) -> Option<AgentReport> {
    let system = |message: String| AgentReport {
        lease: offer.lease,
        agent: machine.name.clone(),
        state: WorkItemState::Error,
        failure: Some(system_failure(offer, &message)),
        record: None,
    };
    let prepared = tokio::select! {
        prepared = prepare(machine, offer) => prepared,
        () = cancel.cancelled() => return None,
    };
    let (plan, id) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => return Some(system(format!("agent {}: {message}", machine.name))),
    };
    let item = plan.work_item(&id).expect("found by prepare");
    let log_path = machine.local.data_dir.join("logs").join(format!("lease-{}.log", offer.lease));
    let client = machine.local.client.clone();
    let (length, sending) =
        log_stream::start(client, offer.lease, machine.name.clone(), log_path.clone());
    let (branch, observer) = (Some(offer.branch.as_str()), Some(Observer::Length(length)));
    let reuse = if offer.again { Reuse::Never } else { Reuse::Stored };
    let path = log_path.clone();
    let finished =
        machine.runner.run_logged(&plan, item, branch, cancel, observer, path, reuse).await;
    tracing::debug!(lease = offer.lease, "run ended; sending the rest of the log");
    // Every line is at the controller before the report ends the lease.
    let _ = sending.await;
    tracing::debug!(lease = offer.lease, "log sent");
    let _ = std::fs::remove_file(&log_path);
    Some(report_of(machine, offer, &id, finished))
}

/// The sources fetched, the plan made, the dependencies' results in the local store.
async fn prepare(machine: &Machine, offer: &AgentOffer) -> Result<(Arc<Plan>, WorkItemId), String> {
    let known = machine
        .plans
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(pins, _)| *pins == offer.pins)
        .map(|(_, plan)| plan.clone());
    let planned = match known {
        Some(plan) => plan,
        None => {
            let plan = Arc::new(machine.local.plan(&offer.pins).await?);
            let mut plans = machine.plans.lock().unwrap_or_else(|e| e.into_inner());
            if plans.len() >= PLANS_KEPT {
                plans.remove(0);
            }
            plans.push((offer.pins.clone(), plan.clone()));
            plan
        }
    };
    let id = find(&planned, &offer.work_item, &offer.build_key)?.id.clone();
    for (key, record) in &offer.dependencies {
        let key = BuildKey::from_hex(key).ok_or_else(|| format!("`{key}` is not a build key"))?;
        let record: Record = serde_json::from_value(record.clone())
            .map_err(|error| format!("the record of {key}: {error}"))?;
        machine.local.seed(&key, record).await?;
    }
    Ok((planned, id))
}

fn report_of(
    machine: &Machine,
    offer: &AgentOffer,
    id: &WorkItemId,
    finished: Finished,
) -> AgentReport {
    let (state, failure) = match &finished.outcome {
        Outcome::Passed if finished.reused => (WorkItemState::Reused, None),
        Outcome::Passed => (WorkItemState::Passed, None),
        Outcome::Failed(failure) => {
            (WorkItemState::Failed, Some(failure_view(id, Some(failure), "")))
        }
        Outcome::Error(failure) => {
            (WorkItemState::Error, Some(failure_view(id, Some(failure), "")))
        }
        Outcome::Cancelled => (WorkItemState::Cancelled, None),
    };
    let record = match state {
        WorkItemState::Error => None,
        _ => finished.record.as_ref().and_then(|record| serde_json::to_value(record).ok()),
    };
    AgentReport { lease: offer.lease, agent: machine.name.clone(), state, failure, record }
}

fn system_failure(offer: &AgentOffer, message: &str) -> FailureView {
    let mut parts = offer.work_item.splitn(3, ':');
    FailureView {
        work_item: offer.work_item.clone(),
        project: parts.next().unwrap_or_default().to_owned(),
        configuration: parts.next().unwrap_or_default().to_owned(),
        location: String::new(),
        instruction: String::new(),
        message: message.to_owned(),
        user_message: None,
        log: None,
        excerpt: Vec::new(),
        tests: Vec::new(),
    }
}

/// Uploads what the record names and reports, until the controller takes the report or
/// refuses it. While it is down this waits: the lease outlives the outage as long as the agent
/// reconnects within its term, and a restarted controller takes the report then.
async fn deliver(machine: &Machine, report: AgentReport, cancel: &CancellationToken) {
    let mut backoff = Duration::from_millis(500);
    // A log that was streamed whole is at the controller already; a reused result's log is
    // the stored one, which it may lack.
    let mut with_log = report.state == WorkItemState::Reused;
    loop {
        let sent = match upload(machine, &report, with_log).await {
            Ok(()) => machine.local.client.report(&report).await,
            Err(error) => Err(error),
        };
        match sent {
            Ok(()) => {
                tracing::info!(lease = report.lease, "report taken");
                return;
            }
            Err(CallError::Down(error)) => {
                tracing::warn!(lease = report.lease, error, ?backoff, "cannot report yet");
            }
            // The streamed log is not what the record names (a piece went missing): sent now.
            Err(CallError::Refused { status: 400, .. }) if !with_log => {
                with_log = true;
                continue;
            }
            Err(error) => {
                tracing::warn!(lease = report.lease, %error, "report refused; the result is dropped");
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = cancel.cancelled() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// The archives of the report's record, and its log `with_log`, where the controller lacks
/// them.
async fn upload(machine: &Machine, report: &AgentReport, with_log: bool) -> Result<(), CallError> {
    let Some(record) = &report.record else { return Ok(()) };
    let record: Record = match serde_json::from_value(record.clone()) {
        Ok(record) => record,
        Err(error) => return Err(CallError::Refused { status: 0, message: error.to_string() }),
    };
    let log = record.log.iter().filter(|_| with_log);
    for digest in log.chain(record.artifacts.values()) {
        let hex = digest.to_hex();
        if !machine.local.client.has_blob(&hex).await? {
            machine.local.client.put_blob(&hex, &machine.local.store.blob_path(digest)).await?;
        }
    }
    Ok(())
}
