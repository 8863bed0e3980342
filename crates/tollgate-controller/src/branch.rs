//! One task per gated branch: Coin's rule of one integration at a time per branch.
//!
//! The task resumes the branch's unfinished integration, if a previous run left one, or forms
//! a new one from every staged change, and drives it to its end. Then it looks again; when
//! nothing is staged it sleeps until something is. After an integration that errored (the
//! system failed, its work items retried in vain) it waits longer each time before forming
//! the next, so a broken machine is not a busy loop.

use std::sync::Arc;
use std::time::Duration;

use tollgate_api::{ChangeState, IntegrationState};

use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

pub async fn run(controller: Arc<Controller>, project: String, branch: String, task: u64) {
    let waker = controller.waker(&project, &branch);
    let mut failures: u32 = 0;
    // The remote has lost the branch, and the log says so: said once, until it is back.
    let mut missing = false;
    loop {
        if controller.shutdown.is_cancelled() || !controller.gates(&project, &branch, task) {
            return;
        }
        let outcome = tokio::select! {
            () = controller.shutdown.cancelled() => return,
            outcome = step(&controller, &project, &branch, &mut missing) => outcome,
        };
        let pause = match outcome {
            Ok(Step::Missing) => Some(controller.config.poll_interval),
            Ok(Step::Ended) => {
                failures = 0;
                continue;
            }
            Ok(Step::Idle) => None,
            Ok(Step::Errored) => {
                failures += 1;
                let pause = controller.config.retry_backoff * 2u32.pow(failures.min(6));
                tracing::warn!(
                    project,
                    branch,
                    ?pause,
                    "the integration errored; waiting before the next"
                );
                Some(pause)
            }
            Err(error) => {
                failures += 1;
                tracing::error!(project, branch, %error, "the integration could not go on; trying again");
                Some(Duration::from_millis(250 << failures.min(8)))
            }
        };
        tokio::select! {
            () = controller.shutdown.cancelled() => return,
            // A missing branch is looked at again when a change is staged, too.
            () = waker.notified(), if pause.is_none() || missing => {}
            () = tokio::time::sleep(pause.unwrap_or_default()), if pause.is_some() => {}
        }
    }
}

/// What one step of a branch came to.
enum Step {
    /// Nothing was staged.
    Idle,
    /// An integration ran to its end (or stopped: cancelled, superseded).
    Ended,
    /// An integration errored; its changes are staged again.
    Errored,
    /// Changes wait, but the remote has no such branch (any more).
    Missing,
}

/// Drives one integration of the branch.
async fn step(
    controller: &Arc<Controller>,
    project: &str,
    branch: &str,
    missing: &mut bool,
) -> Result<Step, ControllerError> {
    if let Some(integration) = controller.db.unfinished_on(project, branch).await? {
        return drive(controller, integration).await;
    }
    if controller.db.changes(project, branch, ChangeState::Staged).await?.is_empty() {
        return Ok(Step::Idle);
    }
    let view = controller.gated_project(project, branch).await?;
    let mirror = controller.mirrors.mirror(project, &view.spec.url).await?;
    let head = format!("refs/heads/{branch}");
    let tip = {
        let (mirror, head) = (mirror.clone(), head.clone());
        blocking(move || mirror.resolve(&head)).await??
    };
    let tip = match tip {
        Some(tip) => tip,
        None => {
            let mirror = controller.fetch(&view).await?;
            match blocking(move || mirror.resolve(&head)).await?? {
                Some(tip) => tip,
                None => {
                    let why = format!(
                        "{project} has no branch `{branch}` at {} any more; its staged changes wait until it is back (or `tollgate project remove {project}`)",
                        view.spec.url
                    );
                    say_missing(controller, project, branch, missing, Some(&why)).await;
                    return Ok(Step::Missing);
                }
            }
        }
    };
    say_missing(controller, project, branch, missing, None).await;
    match controller.db.form(project, branch, tip.as_str(), controller.config.max_batch).await? {
        Some(integration) => {
            tracing::info!(integration = integration.id, project, branch, base = %tip, changes = integration.changes.len(), "integration formed");
            drive(controller, integration).await
        }
        None => Ok(Step::Idle),
    }
}

/// Records in the log that the branch went missing (`why`) or is back, once per change.
async fn say_missing(
    controller: &Controller,
    project: &str,
    branch: &str,
    missing: &mut bool,
    why: Option<&str>,
) {
    if *missing == why.is_some() {
        return;
    }
    *missing = why.is_some();
    let (kind, detail) = match why {
        Some(message) => {
            tracing::warn!(project, branch, message, "the branch is missing");
            ("branch_missing", serde_json::json!({ "message": message }))
        }
        None => {
            tracing::info!(project, branch, "the branch is back");
            ("branch_back", serde_json::json!({}))
        }
    };
    if let Err(error) = controller.db.branch_event(project, branch, kind, detail).await {
        tracing::warn!(project, branch, %error, "cannot record that the branch is missing");
    }
}

async fn drive(
    controller: &Arc<Controller>,
    integration: tollgate_state::Formed,
) -> Result<Step, ControllerError> {
    let id = integration.id;
    crate::integration::drive(controller, integration).await?;
    let Some(ended) = controller.db.integration(id).await? else { return Ok(Step::Ended) };
    controller.count_ended(&ended);
    controller.release_integration(&ended).await;
    if ended.state.is_final() {
        controller.integrated(&ended.project);
    }
    Ok(match ended.state {
        IntegrationState::Errored => Step::Errored,
        _ => Step::Ended,
    })
}
