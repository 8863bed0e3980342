//! Running: plan the integration commit, run its work items on the slots, gate.
//!
//! The plan is made again from the integration commit whenever this phase starts (it is a
//! pure function of the commit), and the work items' states come from the database, so a
//! resumed integration keeps what finished and runs again what was running. A work item whose
//! build key the store has passed is reused without a slot. A system error is retried with
//! backoff; the gate decides at the first significant failure, and what still runs is
//! cancelled.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tollgate_api::{FailureView, IntegrationState, ProjectView, Rejection, WorkItemState};
use tollgate_core::gate::{Gate, JobState, Jobs, decide};
use tollgate_core::plan::{Plan, PlanRequest, WorkItem, plan};
use tollgate_core::run::{Failure, Outcome};
use tollgate_core::source::{Pin, ProjectName, Revision};
use tollgate_runner::Finished;
use tollgate_state::{Formed, NewWorkItem, WorkItemEnd, log_link};
use tollgate_store::RecordOutcome;

use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

pub async fn run(
    controller: &Arc<Controller>,
    integration: &Formed,
    project: &ProjectView,
    cancel: &CancellationToken,
) -> Result<(), ControllerError> {
    let plan = match make_plan(controller, integration, project).await? {
        Ok(plan) => Arc::new(plan),
        Err(diagnostics) => {
            tracing::info!(integration = integration.id, "rejected: the configuration has errors");
            return Ok(controller
                .db
                .reject(integration, &Rejection::Configuration { diagnostics })
                .await?);
        }
    };
    let mut run = Run::new(controller, integration, plan, cancel).await?;
    let gate = run.go().await?;
    run.end(gate).await
}

/// The integration's plan, or its error diagnostics.
async fn make_plan(
    controller: &Controller,
    integration: &Formed,
    project: &ProjectView,
) -> Result<Result<Plan, Vec<String>>, ControllerError> {
    let name = |text: &str| {
        ProjectName::new(text)
            .ok_or_else(|| ControllerError::System(format!("`{text}` is not a project name")))
    };
    let commit = integration.commit.clone().unwrap_or_default();
    let sources = controller.mirrors.sources().clone();
    let project_name = name(&project.spec.name)?;
    let product = project.spec.product.as_deref().map(name).transpose()?;
    let salt = controller.config.salt.clone();
    let planned = blocking(move || {
        let platforms = match product {
            Some(product) => Some(Pin::new(product.clone(), sources.head(&product)?)),
            None => None,
        };
        let request =
            PlanRequest { project: Pin::new(project_name, Revision::new(commit)), platforms, salt };
        plan(&*sources, &request)
    })
    .await?
    .map_err(|error| {
        ControllerError::System(format!("cannot read the sources to plan: {error}"))
    })?;
    if planned.has_errors() {
        let errors = planned.diagnostics.iter().filter(|d| d.is_error());
        return Ok(Err(errors.map(ToString::to_string).collect()));
    }
    // What merges is what was tested: a plan that tests nothing does not merge.
    if planned.work_items().next().is_none() {
        return Ok(Err(vec![format!(
            "{}: no work item to run: no platform configuration is accepted, or every one has nothing to run",
            planned.project
        )]));
    }
    Ok(Ok(planned))
}

/// How one work item's task ended.
enum Ended {
    Reused {
        log: Option<String>,
    },
    Ran(Box<Finished>),
    /// It never started: cancelled while it waited for a slot.
    Cancelled,
    /// The controller could not record its start.
    System(String),
}

struct Run<'a> {
    controller: &'a Arc<Controller>,
    integration: &'a Formed,
    plan: Arc<Plan>,
    jobs: Jobs,
    attempts: Vec<u32>,
    failures: HashMap<usize, FailureView>,
    not_before: HashMap<usize, Instant>,
    tasks: JoinSet<(usize, Ended)>,
    cancel: &'a CancellationToken,
    /// Cancels the running work items, not the integration: after a rejection.
    items: CancellationToken,
}

impl<'a> Run<'a> {
    async fn new(
        controller: &'a Arc<Controller>,
        integration: &'a Formed,
        plan: Arc<Plan>,
        cancel: &'a CancellationToken,
    ) -> Result<Run<'a>, ControllerError> {
        let mut jobs = Jobs::of(&plan);
        let new: Vec<NewWorkItem> = jobs
            .jobs
            .iter()
            .map(|job| NewWorkItem {
                item: job.id.to_string(),
                build_key: job.key.to_hex(),
                significant: job.significant,
            })
            .collect();
        controller.db.planned(integration, &new).await?;
        let mut attempts = vec![0; jobs.jobs.len()];
        let mut failures = HashMap::new();
        for view in controller.db.work_items(integration.id).await? {
            let Some(index) = jobs.jobs.iter().position(|job| job.id.to_string() == view.id) else {
                continue;
            };
            jobs.jobs[index].state = match view.state {
                WorkItemState::Passed | WorkItemState::Reused => JobState::Passed,
                WorkItemState::Failed => JobState::Failed,
                WorkItemState::Error => JobState::Error,
                WorkItemState::Skipped => JobState::Skipped,
                WorkItemState::Cancelled => JobState::Cancelled,
                WorkItemState::Waiting | WorkItemState::Running => JobState::Waiting,
            };
            attempts[index] = view.attempts;
            if let Some(failure) = view.failure {
                failures.insert(index, failure);
            }
        }
        Ok(Run {
            controller,
            integration,
            plan,
            jobs,
            attempts,
            failures,
            not_before: HashMap::new(),
            tasks: JoinSet::new(),
            cancel,
            items: cancel.child_token(),
        })
    }

    /// Starts what is ready and takes in what ends, until the gate decides.
    async fn go(&mut self) -> Result<Gate, ControllerError> {
        loop {
            for (index, cause) in self.jobs.blocked() {
                self.jobs.jobs[index].state = JobState::Skipped;
                let mut failure = self.failures.get(&cause).cloned();
                if let Some(failure) = &mut failure {
                    failure.message = format!("not run: {} did not pass", self.jobs.jobs[cause].id);
                }
                let end = WorkItemEnd { state: WorkItemState::Skipped, failure, log_digest: None };
                self.record(index, &end).await?;
            }
            let gate = decide(&self.jobs);
            if gate != Gate::Pending || self.cancel.is_cancelled() {
                return Ok(gate);
            }
            let now = Instant::now();
            for index in self.jobs.ready() {
                if self.not_before.get(&index).is_some_and(|at| *at > now) {
                    continue;
                }
                self.not_before.remove(&index);
                self.jobs.jobs[index].state = JobState::Running;
                self.attempts[index] += 1;
                self.spawn(index);
            }
            let retry = self.not_before.values().min().copied();
            if self.tasks.is_empty() && retry.is_none() {
                return Err(ControllerError::System(
                    "no work item can start and none is running; the plan's dependencies are inconsistent".into(),
                ));
            }
            tokio::select! {
                Some(joined) = self.tasks.join_next() => {
                    let (index, ended) = joined.map_err(|error| {
                        ControllerError::System(format!("a work item's task failed: {error}"))
                    })?;
                    self.take(index, ended).await?;
                }
                () = self.cancel.cancelled() => {}
                () = tokio::time::sleep_until(retry.unwrap_or(now)), if retry.is_some() => {}
            }
        }
    }

    /// Acts on the decision, after the work items still running have stopped.
    async fn end(mut self, gate: Gate) -> Result<(), ControllerError> {
        self.items.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            if let Ok((index, ended)) = joined {
                self.take(index, ended).await?;
            }
        }
        let (db, integration) = (&self.controller.db, self.integration);
        if self.cancel.is_cancelled() {
            return Ok(());
        }
        match gate {
            Gate::Merge => {
                tracing::info!(integration = integration.id, "every significant work item passed");
                db.decide_merge(integration).await?;
            }
            Gate::Reject(failed) => {
                let failures =
                    failed.iter().filter_map(|index| self.failures.get(index).cloned()).collect();
                tracing::info!(integration = integration.id, failed = failed.len(), "rejected");
                db.reject(integration, &Rejection::Failed { failures }).await?;
            }
            Gate::Errored(errored) => {
                let what: Vec<String> = errored
                    .iter()
                    .map(|&index| {
                        let message = self.failures.get(&index).map_or("", |f| f.message.as_str());
                        format!("{}: {message}", self.jobs.jobs[index].id)
                    })
                    .collect();
                let note = format!(
                    "the system failed, not the changes; they are staged again: {}",
                    what.join("; ")
                );
                tracing::warn!(integration = integration.id, note, "errored");
                db.give_back(integration, IntegrationState::Errored, &note).await?;
            }
            Gate::Pending => {}
        }
        Ok(())
    }

    fn spawn(&mut self, index: usize) {
        let controller = self.controller.clone();
        let plan = self.plan.clone();
        let integration = self.integration.clone();
        let cancel = self.items.clone();
        let attempt = self.attempts[index];
        let id = self.jobs.jobs[index].id.clone();
        self.tasks.spawn(async move {
            let item = plan.work_item(&id).expect("jobs come from the plan");
            let ended = run_item(&controller, &plan, item, &integration, attempt, &cancel).await;
            (index, ended)
        });
    }

    /// Takes in how a work item's task ended; an error is retried while attempts are left.
    async fn take(&mut self, index: usize, ended: Ended) -> Result<(), ControllerError> {
        let (state, failure, log) = match ended {
            Ended::Reused { log } => (WorkItemState::Reused, None, log),
            Ended::Cancelled => (WorkItemState::Cancelled, None, None),
            Ended::System(message) => {
                (WorkItemState::Error, Some(self.failure_view(index, None, &message)), None)
            }
            Ended::Ran(finished) => {
                let log = finished.record.as_ref().and_then(|r| r.log.map(|d| d.to_string()));
                match &finished.outcome {
                    Outcome::Passed if finished.reused => (WorkItemState::Reused, None, log),
                    Outcome::Passed => (WorkItemState::Passed, None, log),
                    Outcome::Failed(failure) => (
                        WorkItemState::Failed,
                        Some(self.failure_view(index, Some(failure), "")),
                        log,
                    ),
                    Outcome::Error(failure) => (
                        WorkItemState::Error,
                        Some(self.failure_view(index, Some(failure), "")),
                        log,
                    ),
                    Outcome::Cancelled => (WorkItemState::Cancelled, None, log),
                }
            }
        };
        let attempts = self.attempts[index];
        if state == WorkItemState::Error
            && attempts < self.controller.config.attempts
            && !self.items.is_cancelled()
        {
            let delay = self.controller.config.retry_backoff * 2u32.pow(attempts.saturating_sub(1));
            let message = failure.as_ref().map_or("", |f| f.message.as_str());
            let id = self.jobs.jobs[index].id.to_string();
            tracing::warn!(
                integration = self.integration.id,
                item = id,
                message,
                ?delay,
                "work item errored; retrying"
            );
            self.controller
                .db
                .item_retried(self.integration, &id, message, delay.as_millis() as u64)
                .await?;
            self.jobs.jobs[index].state = JobState::Waiting;
            self.not_before.insert(index, Instant::now() + delay);
            return Ok(());
        }
        self.jobs.jobs[index].state = match state {
            WorkItemState::Passed | WorkItemState::Reused => JobState::Passed,
            WorkItemState::Failed => JobState::Failed,
            WorkItemState::Error => JobState::Error,
            WorkItemState::Skipped => JobState::Skipped,
            WorkItemState::Waiting | WorkItemState::Running | WorkItemState::Cancelled => {
                JobState::Cancelled
            }
        };
        if let Some(failure) = &failure {
            self.failures.insert(index, failure.clone());
        }
        self.record(index, &WorkItemEnd { state, failure, log_digest: log }).await
    }

    async fn record(&self, index: usize, end: &WorkItemEnd) -> Result<(), ControllerError> {
        let id = self.jobs.jobs[index].id.to_string();
        Ok(self.controller.db.item_finished(self.integration, &id, end).await?)
    }

    fn failure_view(&self, index: usize, failure: Option<&Failure>, message: &str) -> FailureView {
        let id = &self.jobs.jobs[index].id;
        FailureView {
            work_item: id.to_string(),
            project: id.project.to_string(),
            configuration: id.config.clone(),
            location: failure.map_or_else(String::new, |f| f.location.to_string()),
            instruction: failure.map_or_else(String::new, |f| f.instruction.to_owned()),
            message: failure.map_or_else(|| message.to_owned(), |f| f.message.clone()),
            user_message: failure.and_then(|f| f.user_message.clone()),
            log: Some(log_link(self.integration.id, &id.to_string())),
        }
    }
}

/// One work item: reused from the store without a slot, or run on one. The runner looks in
/// the store again once the slot is taken: another branch's integration may have stored the
/// same build key while this one waited.
async fn run_item(
    controller: &Controller,
    plan: &Plan,
    item: &WorkItem,
    integration: &Formed,
    attempt: u32,
    cancel: &CancellationToken,
) -> Ended {
    let store = controller.runner.store().clone();
    let key = item.build_key;
    if let Ok(Ok(Some(record))) = blocking(move || store.record(&key)).await
        && record.outcome == RecordOutcome::Passed
    {
        return Ended::Reused { log: record.log.map(|digest| digest.to_string()) };
    }
    let _slot = tokio::select! {
        permit = controller.slots.acquire(item.machine) => permit,
        () = cancel.cancelled() => return Ended::Cancelled,
    };
    let log = log_path(controller, integration.id, item, attempt);
    let id = item.id.to_string();
    if let Err(error) = controller.db.item_started(integration, &id, &log.to_string_lossy()).await {
        return Ended::System(format!("cannot record the start: {error}"));
    }
    let finished = controller
        .runner
        .run_logged(plan, item, Some(&integration.branch), cancel, None, log)
        .await;
    Ended::Ran(Box::new(finished))
}

/// `DATA_DIR/logs/<integration>/<work item>-<attempt>.log`, the work item's `:` and `/` made
/// safe for a file name.
fn log_path(controller: &Controller, integration: i64, item: &WorkItem, attempt: u32) -> PathBuf {
    let name: String =
        item.id.to_string().chars().map(|c| if c == '/' || c == ':' { '_' } else { c }).collect();
    controller
        .config
        .data_dir
        .join("logs")
        .join(integration.to_string())
        .join(format!("{name}-{attempt}.log"))
}
