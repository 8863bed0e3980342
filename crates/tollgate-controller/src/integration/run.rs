//! Running: plan the integration commit, run its work items on the agents, gate.
//!
//! The plan is made again from the integration commit whenever this phase starts (it is a
//! pure function of the commit), and the work items' states come from the database, so a
//! resumed integration keeps what finished and runs again what was running. A work item whose
//! build key the store has passed is reused without an agent. A system error is retried with
//! backoff; the gate decides at the first significant failure, and what still runs is
//! cancelled.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tollgate_api::{
    FailedTest, FailureView, IntegrationState, MergeResult, ProjectView, QuarantinedTest,
    Rejection, TestOutcome, TestResult, WorkItemState,
};
use tollgate_core::gate::{Gate, JobState, Jobs, decide};
use tollgate_core::plan::{DEFAULT_CORES, Plan, PlanRequest, WorkItem, WorkKind, plan};
use tollgate_core::run::{Failure, Outcome};
use tollgate_core::schedule::{BranchKey, Demand};
use tollgate_core::source::{Pin, ProjectName, Revision};
use tollgate_runner::{Finished, Observer, Reuse};
use tollgate_state::{Formed, LeaseEnd, NewWorkItem, WorkItemEnd, log_link};
use tollgate_store::RecordOutcome;

use crate::agents::leases::Adopted as AdoptedLease;
use crate::agents::offer::plan_pins;
use crate::agents::{Assignment, Job, Queued, Reported, WorkRef, attributes};
use crate::controller::Controller;
use crate::error::{ControllerError, blocking};
use crate::metrics::SystemError;

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

/// What Coin's rule for flaky tests makes of a run's end.
enum Flaky {
    RunAgain,
    Forgiven(Rerun),
    End(Option<FailureView>),
}

/// The re-runs of failed tests that a resumed integration takes up again: the newest
/// `work_item_rerun` of each work item that waits to run, read from the integration's log.
async fn reruns_under_way(
    controller: &Controller,
    integration: &Formed,
    jobs: &Jobs,
) -> Result<HashMap<usize, Rerun>, ControllerError> {
    let mut reruns = HashMap::new();
    let mut cursor = tollgate_state::Cursor::After(0);
    loop {
        let page = controller.db.events(Some(integration.id), cursor, 500).await?;
        for event in page.items.iter().filter(|event| event.kind == "work_item_rerun") {
            let Some(index) =
                jobs.jobs.iter().position(|job| Some(job.id.to_string()) == event.work_item)
            else {
                continue;
            };
            let first = &event.detail["first"];
            let (Ok(failure), Ok(tests)) = (
                serde_json::from_value::<FailureView>(first["failure"].clone()),
                serde_json::from_value::<Vec<String>>(first["tests"].clone()),
            ) else {
                continue;
            };
            let passed = event.detail["rerun"].as_u64().unwrap_or(1).saturating_sub(1) as u32;
            reruns.insert(index, Rerun { passed, failure, tests });
        }
        match page.next {
            Some(next) if !page.items.is_empty() => cursor = tollgate_state::Cursor::After(next),
            _ => break,
        }
    }
    // Only those that still wait: an ended one was decided.
    reruns.retain(|index, _| jobs.jobs[*index].state == JobState::Waiting);
    Ok(reruns)
}

/// The tests that failed.
fn failed<'t>(tests: impl IntoIterator<Item = &'t TestResult>) -> Vec<TestResult> {
    tests.into_iter().filter(|test| test.outcome == TestOutcome::Failed).cloned().collect()
}

/// How one work item's task ended.
enum Ended {
    Reused {
        log: Option<String>,
    },
    /// Failed before with the same build key, and reused while its batch is bisected.
    ReusedFailure {
        log: Option<String>,
        failure: Option<tollgate_store::RecordFailure>,
        tests: Vec<TestResult>,
    },
    /// It ran here, under `lease`.
    Ran(Box<Finished>, i64),
    /// A remote agent reported under `lease`; `ack` answers it once the end is recorded.
    Reported(Box<Reported>, i64),
    /// The lease expired: the agent stopped heartbeating.
    Lost {
        lease: i64,
        agent: String,
    },
    /// It never started: cancelled while it waited for an agent.
    Cancelled,
    /// The controller could not start it.
    System(String),
    /// No connected agent could ever run it, for longer than the configured wait: the
    /// system's fault (a missing machine), not retried.
    Unplaceable(String),
}

/// A failed significant test being run again: Coin's rule forgives its failure only if every
/// re-run passes.
struct Rerun {
    /// Re-runs that have passed.
    passed: u32,
    /// How it failed first, and the tests that failed then.
    failure: FailureView,
    tests: Vec<String>,
}

struct Run<'a> {
    controller: &'a Arc<Controller>,
    integration: &'a Formed,
    plan: Arc<Plan>,
    jobs: Jobs,
    attempts: Vec<u32>,
    failures: HashMap<usize, FailureView>,
    not_before: HashMap<usize, Instant>,
    /// Significant tests that failed and run again to tell a flake (see `flaky`).
    reruns: HashMap<usize, Rerun>,
    /// The quarantined tests that failed in a work item's runs (see `quarantine`).
    quarantined: HashMap<usize, Vec<QuarantinedTest>>,
    tasks: JoinSet<(usize, Ended)>,
    cancel: &'a CancellationToken,
    /// Cancels the running work items, not the integration: after a rejection.
    items: CancellationToken,
    /// A failed batch is bisected: a failure stored under a build key stands (`ReusedFailure`).
    reuse_failures: bool,
    /// The branch's chain: how far from the head this integration is.
    chain: watch::Receiver<Vec<i64>>,
    /// Per work item, the depth of the strictest platform class its configuration is in: it
    /// waits while its integration is that far from the head or further.
    class_depth: Vec<Option<u32>>,
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
        let pins = plan_pins(&plan, &controller.config.salt);
        controller.db.planned(integration, &new, &pins).await?;
        let mut attempts = vec![0; jobs.jobs.len()];
        let mut failures = HashMap::new();
        let mut adopted = Vec::new();
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
                WorkItemState::Waiting => JobState::Waiting,
                // Still running only when an agent holds its lease (see `recover_items`).
                WorkItemState::Running => {
                    let key = WorkRef { integration: integration.id, item: view.id.clone() };
                    match controller.pool.leases.take_adopted(&key) {
                        Some(lease) => {
                            adopted.push((index, lease));
                            JobState::Running
                        }
                        None => JobState::Waiting,
                    }
                }
            };
            attempts[index] = view.attempts;
            if let Some(failure) = view.failure {
                failures.insert(index, failure);
            }
        }
        let reruns = reruns_under_way(controller, integration, &jobs).await?;
        let reuse_failures =
            controller.db.bisecting(&integration.project, &integration.branch).await?;
        let runtime = controller.runtime();
        let speculation = &runtime.speculation;
        let class_depth = jobs
            .jobs
            .iter()
            .map(|job| {
                let configuration =
                    plan.configurations.iter().find(|c| c.config.id == job.id.config)?;
                speculation.class(&attributes(configuration)).map(|class| class.depth.max(1))
            })
            .collect();
        let mut run = Run {
            controller,
            integration,
            plan,
            jobs,
            attempts,
            failures,
            not_before: HashMap::new(),
            reruns,
            quarantined: HashMap::new(),
            tasks: JoinSet::new(),
            cancel,
            items: cancel.child_token(),
            reuse_failures,
            chain: controller.chain(&integration.project, &integration.branch),
            class_depth,
        };
        for (index, lease) in adopted {
            run.wait_for_report(index, lease);
        }
        Ok(run)
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
                let end = WorkItemEnd {
                    state: WorkItemState::Skipped,
                    failure,
                    quarantined: Vec::new(),
                    log_digest: None,
                    lease: None,
                };
                self.record(index, &end).await?;
            }
            let gate = decide(&self.jobs);
            if gate != Gate::Pending || self.cancel.is_cancelled() {
                return Ok(gate);
            }
            let now = Instant::now();
            let depth = self.depth();
            let mut held = false;
            for index in self.jobs.ready() {
                if self.not_before.get(&index).is_some_and(|at| *at > now) {
                    continue;
                }
                // Its platform class runs only closer to the head.
                if self.class_depth[index].is_some_and(|most| depth >= most) {
                    held = true;
                    continue;
                }
                self.not_before.remove(&index);
                self.jobs.jobs[index].state = JobState::Running;
                self.attempts[index] += 1;
                self.spawn(index, depth);
            }
            let retry = self.not_before.values().min().copied();
            if self.tasks.is_empty() && retry.is_none() && !held {
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
                // The integrations ahead moved on: a held work item may start.
                _ = self.chain.changed(), if held => {}
            }
        }
    }

    /// How many unfinished integrations of the branch are ahead of this one.
    fn depth(&self) -> u32 {
        let chain = self.chain.borrow();
        chain.iter().position(|id| *id == self.integration.id).unwrap_or_default() as u32
    }

    /// Waits until this integration is at the head of its branch: a decision is taken only on
    /// what merged ahead of it. A failure behind one that then fails says nothing about its
    /// own changes; that one ends it, and its changes are formed again without the culprit.
    /// `false` when it was cancelled meanwhile.
    async fn at_head(&mut self) -> bool {
        let id = self.integration.id;
        if self.chain.borrow().first() != Some(&id) {
            tracing::info!(integration = id, "decided; waiting for the integrations ahead of it");
        }
        tokio::select! {
            waited = self.chain.wait_for(|chain| chain.first() == Some(&id)) => waited.is_ok(),
            () = self.cancel.cancelled() => false,
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
        if self.cancel.is_cancelled() {
            return Ok(());
        }
        if matches!(gate, Gate::Merge | Gate::Reject(_)) && !self.at_head().await {
            return Ok(());
        }
        let (db, integration) = (&self.controller.db, self.integration);
        match gate {
            Gate::Merge => {
                tracing::info!(integration = integration.id, "every significant work item passed");
                db.decide_merge(integration).await?;
            }
            Gate::Reject(failed) => {
                let failures =
                    failed.iter().filter_map(|index| self.failures.get(index).cloned()).collect();
                tracing::info!(integration = integration.id, failed = failed.len(), "rejected");
                let batch = batch(db, integration.id).await?;
                db.reject(integration, &Rejection::Failed { failures, batch }).await?;
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

    /// A work item that an agent ran across a restart of the controller: its report is
    /// waited for under the lease that the state kept.
    fn wait_for_report(&mut self, index: usize, (lease, agent, reports): AdoptedLease) {
        let controller = self.controller.clone();
        let plan = self.plan.clone();
        let integration = self.integration.clone();
        let cancel = self.items.clone();
        let id = self.jobs.jobs[index].id.clone();
        self.tasks.spawn(async move {
            let item = plan.work_item(&id).expect("jobs come from the plan");
            let work = WorkRef { integration: integration.id, item: id.to_string() };
            if let Ok(demand) = demand(&plan, item, &integration) {
                controller.pool.adopt(demand, &agent);
            }
            let ended = remote(&controller, reports, &agent, lease, &cancel).await;
            controller.pool.release(&work);
            (index, ended)
        });
    }

    fn spawn(&mut self, index: usize, depth: u32) {
        let controller = self.controller.clone();
        let plan = self.plan.clone();
        let integration = self.integration.clone();
        let cancel = self.items.clone();
        let attempt = self.attempts[index];
        let reusable = match self.reruns.contains_key(&index) {
            true => Reusable::Nothing,
            false if self.reuse_failures => Reusable::Anything,
            false => Reusable::Passes,
        };
        let id = self.jobs.jobs[index].id.clone();
        self.tasks.spawn(async move {
            let item = plan.work_item(&id).expect("jobs come from the plan");
            let at = Attempt { number: attempt, reusable, depth };
            let ended = run_item(&controller, &plan, item, &integration, at, &cancel).await;
            (index, ended)
        });
    }

    /// Takes in how a work item's task ended; an error is retried while attempts are left.
    async fn take(&mut self, index: usize, ended: Ended) -> Result<(), ControllerError> {
        let controller = self.controller;
        let metrics = &controller.metrics;
        let mut retry = true;
        let mut ack = None;
        let mut failed_tests = Vec::new();
        let mut ran = false;
        // A failure reused from the store was judged there, re-runs included.
        let mut judged = false;
        let (state, failure, log, lease) = match ended {
            Ended::Reused { log } => (WorkItemState::Reused, None, log, None),
            Ended::ReusedFailure { log, failure, tests } => {
                failed_tests = failed(&tests);
                judged = true;
                let failure = self.reused_failure(index, failure.as_ref()).await;
                (WorkItemState::Failed, Some(failure), log, None)
            }
            Ended::Cancelled => (WorkItemState::Cancelled, None, None, None),
            Ended::System(message) => {
                metrics.system_error(SystemError::StartFailed);
                (WorkItemState::Error, Some(self.failure_view(index, None, &message)), None, None)
            }
            Ended::Unplaceable(message) => {
                retry = false;
                metrics.system_error(SystemError::Unplaceable);
                (WorkItemState::Error, Some(self.failure_view(index, None, &message)), None, None)
            }
            Ended::Lost { lease, agent } => {
                metrics.system_error(SystemError::AgentLost);
                let message = format!(
                    "agent {agent} was lost: no heartbeat for {} s; the work item runs again",
                    self.controller.pool.leases.term.as_secs()
                );
                let failure = self.failure_view(index, None, &message);
                return self.retry_or_end(index, failure, Some((lease, LeaseEnd::Expired))).await;
            }
            Ended::Ran(finished, lease) => {
                let log = finished.record.as_ref().and_then(|r| r.log.map(|d| d.to_string()));
                let tests = finished.record.iter().flat_map(|record| &record.tests);
                failed_tests = failed(tests);
                ran = true;
                let (state, failure) = match &finished.outcome {
                    Outcome::Passed if finished.reused => (WorkItemState::Reused, None),
                    Outcome::Passed => (WorkItemState::Passed, None),
                    Outcome::Failed(failure) => {
                        (WorkItemState::Failed, Some(self.failure_view(index, Some(failure), "")))
                    }
                    Outcome::Error(failure) => {
                        (WorkItemState::Error, Some(self.failure_view(index, Some(failure), "")))
                    }
                    Outcome::Cancelled => (WorkItemState::Cancelled, None),
                };
                (state, failure, log, Some(lease))
            }
            Ended::Reported(reported, lease) => {
                let Reported { report, ack: answer } = *reported;
                ack = Some(answer);
                let tests: Vec<TestResult> = report
                    .record
                    .as_ref()
                    .and_then(|record| record.get("tests"))
                    .and_then(|tests| serde_json::from_value(tests.clone()).ok())
                    .unwrap_or_default();
                failed_tests = failed(&tests);
                ran = true;
                let log = report
                    .record
                    .as_ref()
                    .and_then(|record| record.get("log"))
                    .and_then(|log| log.as_str())
                    .map(str::to_owned);
                let link = log_link(self.integration.id, &self.jobs.jobs[index].id.to_string());
                let failure =
                    report.failure.map(|failure| FailureView { log: Some(link), ..failure });
                (report.state, failure, log, Some(lease))
            }
        };
        // An error under a lease: it ran, and the machine failed it.
        if state == WorkItemState::Error && lease.is_some() {
            metrics.system_error(SystemError::RunErrored);
        }
        let failed_names: Vec<String> = failed_tests.iter().map(|t| t.name.clone()).collect();
        if ran && matches!(state, WorkItemState::Passed | WorkItemState::Failed) {
            self.test_history(index, &failed_names, false).await;
        }
        let (state, failure) = self.quarantine(index, state, failure, &failed_tests).await?;
        let recorded = match failure {
            Some(failure) if state == WorkItemState::Error && retry => {
                let lease = lease.map(|lease| (lease, LeaseEnd::Released));
                self.retry_or_end(index, failure, lease).await
            }
            failure => match self.flaky(index, state, failure, failed_names, judged) {
                Flaky::RunAgain => self.rerun(index, lease).await,
                Flaky::Forgiven(rerun) => self.forgive(index, rerun, log, lease).await,
                Flaky::End(failure) => {
                    let failure = match failure {
                        Some(failure) => Some(self.with_tests(index, failure, failed_tests).await),
                        None => None,
                    };
                    self.finish(index, state, failure, log, lease).await
                }
            },
        };
        if let Some(ack) = ack {
            let _ = ack.send(recorded.as_ref().map(|_| ()).map_err(ToString::to_string));
        }
        recorded
    }

    /// Coin's rule for a significant test that failed: it runs again on fresh machines up to
    /// `flaky_reruns` times, and its failure is forgiven only if every re-run passes; a
    /// re-run that fails ends it as failed. Builds are never run again, nor is a failure
    /// reused from the store (`judged`): its re-runs were run when it was stored.
    fn flaky(
        &mut self,
        index: usize,
        state: WorkItemState,
        failure: Option<FailureView>,
        tests: Vec<String>,
        judged: bool,
    ) -> Flaky {
        if judged {
            return Flaky::End(failure);
        }
        let reruns = self.controller.runtime().flaky_reruns;
        let job = &self.jobs.jobs[index];
        let is_test = job.id.kind == WorkKind::Test && job.significant;
        match (state, self.reruns.get_mut(&index), failure) {
            (WorkItemState::Failed, None, Some(failure))
                if is_test && reruns > 0 && !self.items.is_cancelled() =>
            {
                self.reruns.insert(index, Rerun { passed: 0, failure, tests });
                Flaky::RunAgain
            }
            (WorkItemState::Passed, Some(rerun), None) => {
                rerun.passed += 1;
                match rerun.passed >= reruns {
                    true => Flaky::Forgiven(self.reruns.remove(&index).expect("just found")),
                    false => Flaky::RunAgain,
                }
            }
            (_, _, failure) => {
                self.reruns.remove(&index);
                Flaky::End(failure)
            }
        }
    }

    /// A Test work item whose failed tests are all quarantined on its configuration passed:
    /// their failures are reported (a `quarantined` event, and with the work item once it
    /// ends) and do not reject. Its result stays a failure in the store, so the next
    /// integration runs it again rather than reuse it.
    async fn quarantine(
        &mut self,
        index: usize,
        state: WorkItemState,
        failure: Option<FailureView>,
        failed: &[TestResult],
    ) -> Result<(WorkItemState, Option<FailureView>), ControllerError> {
        let id = &self.jobs.jobs[index].id;
        if state != WorkItemState::Failed || id.kind != WorkKind::Test || failed.is_empty() {
            return Ok((state, failure));
        }
        let db = &self.controller.db;
        let entries =
            db.quarantine_in_force(&self.integration.project, tollgate_state::now_ms()).await?;
        let Some(forgiven) = crate::quarantine::covering(&entries, &id.config, failed) else {
            return Ok((state, failure));
        };
        let item = id.to_string();
        tracing::info!(
            integration = self.integration.id,
            item,
            tests = forgiven.len(),
            "quarantined tests failed"
        );
        let detail = serde_json::json!({
            "configuration": id.config,
            "tests": forgiven,
            "failure": failure,
        });
        db.item_event(self.integration, &item, "quarantined", detail).await?;
        self.quarantined.entry(index).or_default().extend(forgiven);
        Ok((WorkItemState::Passed, None))
    }

    /// A Test work item's run (or its forgiven `flaky` failure) into the history of its tests.
    /// The history informs; a failure to write it is logged, and the integration goes on.
    async fn test_history(&self, index: usize, tests: &[String], flaky: bool) {
        let id = &self.jobs.jobs[index].id;
        if id.kind != WorkKind::Test {
            return;
        }
        let (item, now) = (id.to_string(), tollgate_state::now_ms());
        let of = (self.integration.project.as_str(), id.config.as_str(), item.as_str());
        let db = &self.controller.db;
        let written = match flaky {
            true => db.tests_flaked(of, tests, now).await,
            false => db.tests_ran(of, tests, now).await,
        };
        if let Err(error) = written {
            tracing::warn!(item, %error, "cannot write the history of its tests");
        }
    }

    /// The failure with the tests that failed, each with its history on this configuration
    /// when it has failed before this run or was forgiven as flaky.
    async fn with_tests(
        &self,
        index: usize,
        failure: FailureView,
        tests: Vec<TestResult>,
    ) -> FailureView {
        let id = &self.jobs.jobs[index].id;
        let (item, now) = (id.to_string(), tollgate_state::now_ms());
        let of = (self.integration.project.as_str(), id.config.as_str(), item.as_str());
        let mut failed = Vec::new();
        for test in tests {
            let record = self.controller.db.test_record(of, &test.name, now).await;
            let history = record.ok().filter(|r| r.failures > 1 || r.flakes > 0);
            failed.push(FailedTest { name: test.name, message: test.message, history });
        }
        FailureView { tests: failed, ..failure }
    }

    /// A failure of the same build key from an earlier run, as this work item's: as that run
    /// reported it (its lines, its tests, its log), else as the store recorded it.
    async fn reused_failure(
        &self,
        index: usize,
        failure: Option<&tollgate_store::RecordFailure>,
    ) -> FailureView {
        let job = &self.jobs.jobs[index];
        let db = &self.controller.db;
        let reused = "(reused while the batch is bisected: this tree failed before)";
        if let Ok(Some(from)) = db.ran_before(&job.key.to_hex(), self.integration.id).await
            && let Ok(items) = db.work_items(from).await
            && let Some(earlier) =
                items.into_iter().find(|w| w.id == job.id.to_string()).and_then(|w| w.failure)
        {
            let message = match earlier.message.ends_with(reused) {
                true => earlier.message.clone(),
                false => format!("{} {reused}", earlier.message),
            };
            return FailureView { message, ..earlier };
        }
        let view = self.failure_view(index, None, "failed");
        match failure {
            Some(f) => FailureView {
                location: format!("{}:{}:{}", f.file, f.line, f.column),
                instruction: f.instruction.clone(),
                message: format!("{} {reused}", f.message),
                user_message: f.user_message.clone(),
                ..view
            },
            None => FailureView { message: format!("failed {reused}"), ..view },
        }
    }

    /// The test runs again, on a fresh machine and whatever the store holds.
    async fn rerun(&mut self, index: usize, lease: Option<i64>) -> Result<(), ControllerError> {
        let first = &self.reruns[&index];
        let rerun = first.passed + 1;
        let detail = serde_json::json!({ "failure": first.failure, "tests": first.tests });
        let of = self.controller.runtime().flaky_reruns;
        let id = self.jobs.jobs[index].id.to_string();
        tracing::info!(
            integration = self.integration.id,
            item = id,
            rerun,
            of,
            "a failed test runs again"
        );
        let db = &self.controller.db;
        db.item_rerun(self.integration, &id, (rerun, of), detail, lease).await?;
        self.jobs.jobs[index].state = JobState::Waiting;
        Ok(())
    }

    /// Every re-run passed: the first failure was a flake, recorded as one, and the work item
    /// passed.
    async fn forgive(
        &mut self,
        index: usize,
        rerun: Rerun,
        log: Option<String>,
        lease: Option<i64>,
    ) -> Result<(), ControllerError> {
        let job = &self.jobs.jobs[index];
        let id = job.id.to_string();
        tracing::info!(integration = self.integration.id, item = id, tests = ?rerun.tests, "a flaky failure is forgiven");
        let detail = serde_json::json!({
            "configuration": job.id.config,
            "reruns": rerun.passed,
            "tests": rerun.tests,
            "failure": rerun.failure,
        });
        self.controller.db.item_event(self.integration, &id, "flaky", detail).await?;
        self.test_history(index, &rerun.tests, true).await;
        self.finish(index, WorkItemState::Passed, None, log, lease).await
    }

    /// A system error: the work item runs again after a backoff while attempts are left, or
    /// ends as an error.
    async fn retry_or_end(
        &mut self,
        index: usize,
        failure: FailureView,
        lease: Option<(i64, LeaseEnd)>,
    ) -> Result<(), ControllerError> {
        // Re-runs of a failed test are runs of their own, not attempts at one.
        let reruns = self.reruns.get(&index).map_or(0, |rerun| rerun.passed + 1);
        let attempts = self.attempts[index] - reruns;
        if attempts >= self.controller.config.attempts || self.items.is_cancelled() {
            if let Some((lease, how)) = lease {
                self.controller.db.end_lease(lease, how).await?;
            }
            return self.finish(index, WorkItemState::Error, Some(failure), None, None).await;
        }
        let delay = self.controller.config.retry_backoff * 2u32.pow(attempts.saturating_sub(1));
        let id = self.jobs.jobs[index].id.to_string();
        tracing::warn!(
            integration = self.integration.id,
            item = id,
            message = failure.message,
            ?delay,
            "work item errored; retrying"
        );
        let db = &self.controller.db;
        db.item_retried(self.integration, &id, &failure.message, delay.as_millis() as u64, lease)
            .await?;
        self.controller.metrics.retried();
        self.jobs.jobs[index].state = JobState::Waiting;
        self.not_before.insert(index, Instant::now() + delay);
        Ok(())
    }

    /// Records the end of a work item's run.
    async fn finish(
        &mut self,
        index: usize,
        state: WorkItemState,
        failure: Option<FailureView>,
        log: Option<String>,
        lease: Option<i64>,
    ) -> Result<(), ControllerError> {
        self.jobs.jobs[index].state = match state {
            WorkItemState::Passed | WorkItemState::Reused => JobState::Passed,
            WorkItemState::Failed => JobState::Failed,
            WorkItemState::Error => JobState::Error,
            WorkItemState::Skipped => JobState::Skipped,
            WorkItemState::Waiting | WorkItemState::Running | WorkItemState::Cancelled => {
                JobState::Cancelled
            }
        };
        let failure = match failure {
            Some(failure) if state == WorkItemState::Failed => {
                Some(self.excerpted(index, failure).await)
            }
            failure => failure,
        };
        if let Some(failure) = &failure {
            self.failures.insert(index, failure.clone());
        }
        if state == WorkItemState::Reused {
            self.controller.metrics.reused();
        }
        let quarantined = self.quarantined.remove(&index).unwrap_or_default();
        let quarantined = if state == WorkItemState::Passed { quarantined } else { Vec::new() };
        let end = WorkItemEnd { state, failure, quarantined, log_digest: log, lease };
        self.record(index, &end).await
    }

    /// The failure with the lines of its log that show it, read from the log this controller
    /// has (written here, or streamed by the agent).
    async fn excerpted(&self, index: usize, failure: FailureView) -> FailureView {
        let id = self.jobs.jobs[index].id.to_string();
        let source = self.controller.db.log_of(Some(self.integration.id), &id).await;
        let Some(path) = source.ok().flatten().and_then(|source| source.path) else {
            return failure;
        };
        let excerpt =
            blocking(move || tollgate_runner::excerpt_of_file(std::path::Path::new(&path)))
                .await
                .unwrap_or_default();
        FailureView { excerpt, ..failure }
    }

    async fn record(&self, index: usize, end: &WorkItemEnd) -> Result<(), ControllerError> {
        let id = self.jobs.jobs[index].id.to_string();
        Ok(self.controller.db.item_finished(self.integration, &id, end).await?)
    }

    fn failure_view(&self, index: usize, failure: Option<&Failure>, message: &str) -> FailureView {
        let id = &self.jobs.jobs[index].id;
        let view = tollgate_runner::failure_view(id, failure, message);
        FailureView { log: Some(log_link(self.integration.id, &id.to_string())), ..view }
    }
}

/// The changes an integration built together: those that merged onto the tip, not those
/// that conflicted (rejected on their own).
async fn batch(db: &tollgate_state::Db, integration: i64) -> Result<Vec<i64>, ControllerError> {
    let view = db.integration_view(integration, false).await?;
    let changes = view.map(|view| view.changes).unwrap_or_default();
    Ok(changes
        .into_iter()
        .filter(|c| matches!(c.merge, Some(MergeResult::FastForward | MergeResult::Merged)))
        .map(|c| c.change)
        .collect())
}

/// Which stored result under a work item's build key stands for a run of it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reusable {
    /// None: a failed test's re-run.
    Nothing,
    /// A pass.
    Passes,
    /// A pass or a failure: while a failed batch is bisected.
    Anything,
}

/// One work item: reused from the store without an agent, or queued for one and run there.
/// The local runner looks in the store again once its agent took it: another branch's
/// integration may have stored the same build key while this one waited.
/// One run of a work item: its number, what it may reuse, and how far its integration is from
/// the head (for the scheduler's order).
struct Attempt {
    number: u32,
    reusable: Reusable,
    depth: u32,
}

async fn run_item(
    controller: &Controller,
    plan: &Arc<Plan>,
    item: &WorkItem,
    integration: &Formed,
    attempt: Attempt,
    cancel: &CancellationToken,
) -> Ended {
    let Attempt { number: attempt, reusable, depth } = attempt;
    let store = controller.runner.store().clone();
    let key = item.build_key;
    let again = reusable == Reusable::Nothing;
    if !again && let Ok(Ok(Some(record))) = blocking(move || store.record(&key)).await {
        let log = record.log.map(|digest| digest.to_string());
        match record.outcome {
            RecordOutcome::Passed => return Ended::Reused { log },
            RecordOutcome::Failed if reusable == Reusable::Anything => {
                return Ended::ReusedFailure { log, failure: record.failure, tests: record.tests };
            }
            _ => {}
        }
    }
    let demand = match demand(plan, item, integration) {
        Ok(demand) => Demand { depth, ..demand },
        Err(message) => return Ended::System(message),
    };
    let work = demand.key.clone();
    let log = log_path(controller, integration.id, item, attempt);
    let job = Job {
        integration: integration.clone(),
        plan: plan.clone(),
        item: item.id.clone(),
        log_path: log.clone(),
        again,
    };
    let mut queued = controller.pool.enqueue(demand, job);
    let assignment = match wait_for_agent(controller, &mut queued, cancel).await {
        Ok(assignment) => assignment,
        Err(ended) => return ended,
    };
    drop(queued);
    let started = Instant::now();
    let ended = match assignment.reports {
        None => {
            // Each write wakes the log's followers; writes that come while they are woken
            // wake them once.
            let (length, mut written) = tokio::sync::watch::channel(0);
            let watched = log.clone();
            let wake = async {
                while written.changed().await.is_ok() {
                    controller.logs.wrote(&watched);
                }
                // The last write, when the log was sealed right after it.
                controller.logs.wrote(&watched);
            };
            let (branch, observer) =
                (Some(integration.branch.as_str()), Some(Observer::Length(length)));
            let reuse = if again { Reuse::Never } else { Reuse::Stored };
            let run =
                controller.runner.run_logged(plan, item, branch, cancel, observer, log, reuse);
            let (finished, ()) = tokio::join!(run, wake);
            Ended::Ran(Box::new(finished), assignment.lease)
        }
        Some(reports) => {
            remote(controller, reports, &assignment.agent, assignment.lease, cancel).await
        }
    };
    controller.pool.release(&work);
    if let Some(outcome) = ran_outcome(&ended) {
        controller.metrics.work_item_ran(&item.id.config, outcome, started.elapsed());
    }
    ended
}

/// How a run on an agent ended, as the work item's state names it; `None` when nothing ran
/// (the agent found the build key in its store). Only for what ended after an agent took the
/// work item.
fn ran_outcome(ended: &Ended) -> Option<&'static str> {
    let state = match ended {
        Ended::Ran(finished, _) => match &finished.outcome {
            Outcome::Passed if finished.reused => return None,
            Outcome::Passed => WorkItemState::Passed,
            Outcome::Failed(_) => WorkItemState::Failed,
            Outcome::Error(_) => WorkItemState::Error,
            Outcome::Cancelled => WorkItemState::Cancelled,
        },
        Ended::Reported(reported, _) if reported.report.state == WorkItemState::Reused => {
            return None;
        }
        Ended::Reported(reported, _) => reported.report.state,
        // The lease expired: it ran until its agent went silent.
        Ended::Lost { .. } => WorkItemState::Error,
        // Taken back from a remote agent: the gate decided while it ran.
        Ended::Cancelled => WorkItemState::Cancelled,
        _ => return None,
    };
    Some(state.as_str())
}

/// Waits for a remote run's report; cancelling takes the lease back (the agent drops the run
/// at its next heartbeat).
async fn remote(
    controller: &Controller,
    reports: tokio::sync::oneshot::Receiver<Reported>,
    agent: &str,
    lease: i64,
    cancel: &CancellationToken,
) -> Ended {
    tokio::select! {
        reported = reports => match reported {
            Ok(reported) => Ended::Reported(Box::new(reported), lease),
            Err(_) => Ended::Lost { lease, agent: agent.to_owned() },
        },
        () = cancel.cancelled() => {
            controller.pool.leases.forget(lease);
            if let Err(error) = controller.db.end_lease(lease, LeaseEnd::Released).await {
                tracing::warn!(lease, %error, "cannot release a cancelled lease");
            }
            Ended::Cancelled
        }
    }
}

/// Waits until an agent takes the work item. While no connected agent could ever run it, the
/// reason is shown with the work item; past `unplaceable_timeout` that is a system error.
async fn wait_for_agent(
    controller: &Controller,
    queued: &mut Queued<'_>,
    cancel: &CancellationToken,
) -> Result<Assignment, Ended> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut since: Option<Instant> = None;
    let pool = &controller.pool;
    let result = loop {
        tokio::select! {
            placed = &mut queued.placed => break match placed {
                Ok(Ok(assignment)) => Ok(assignment),
                Ok(Err(message)) => Err(Ended::System(message)),
                Err(_) => Err(Ended::System("the scheduler dropped the work item".into())),
            },
            () = cancel.cancelled() => break Err(Ended::Cancelled),
            _ = tick.tick() => {}
        }
        match queued.unplaceable() {
            Some(why) => {
                let waited = since.get_or_insert_with(Instant::now).elapsed();
                if waited >= controller.config.unplaceable_timeout {
                    let secs = controller.config.unplaceable_timeout.as_secs();
                    break Err(Ended::Unplaceable(format!("{why} (waited {secs} s)")));
                }
                pool.set_waiting(queued.key(), Some(why.to_string()));
            }
            None => {
                since = None;
                pool.set_waiting(queued.key(), None);
            }
        }
    };
    pool.set_waiting(queued.key(), None);
    result
}

/// What the scheduler needs to place the work item: its template, size and attributes.
fn demand(plan: &Plan, item: &WorkItem, integration: &Formed) -> Result<Demand<WorkRef>, String> {
    let configuration = plan
        .configurations
        .iter()
        .find(|c| c.config.id == item.id.config)
        .ok_or_else(|| format!("{} is not in the plan", item.id))?;
    Ok(Demand {
        key: WorkRef { integration: integration.id, item: item.id.to_string() },
        branch: BranchKey {
            project: integration.project.clone(),
            branch: integration.branch.clone(),
        },
        depth: 0,
        template: configuration.config.template.clone(),
        slots: item.machine.cores.div_ceil(DEFAULT_CORES).max(1),
        attributes: attributes(configuration),
    })
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
