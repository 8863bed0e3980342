//! One task per gated branch: Coin's rule of one integration at a time per branch.
//!
//! The task resumes the branch's unfinished integration, if a previous run left one, or forms
//! a new one from every staged change, and drives it to its end. Then it looks again; when
//! nothing is staged it sleeps until something is.

use std::sync::Arc;
use std::time::Duration;

use tollgate_api::ChangeState;

use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

pub async fn run(controller: Arc<Controller>, project: String, branch: String) {
    let waker = controller.waker(&project, &branch);
    let mut failures: u32 = 0;
    loop {
        if controller.shutdown.is_cancelled() {
            return;
        }
        let outcome = tokio::select! {
            () = controller.shutdown.cancelled() => return,
            outcome = step(&controller, &project, &branch) => outcome,
        };
        let pause = match outcome {
            Ok(true) => {
                failures = 0;
                continue;
            }
            Ok(false) => None,
            Err(error) => {
                failures += 1;
                tracing::error!(project, branch, %error, "the integration could not go on; trying again");
                Some(Duration::from_millis(250 << failures.min(8)))
            }
        };
        tokio::select! {
            () = controller.shutdown.cancelled() => return,
            () = waker.notified(), if pause.is_none() => {}
            () = tokio::time::sleep(pause.unwrap_or_default()), if pause.is_some() => {}
        }
    }
}

/// Drives one integration of the branch; `false` when there was nothing to do.
async fn step(
    controller: &Arc<Controller>,
    project: &str,
    branch: &str,
) -> Result<bool, ControllerError> {
    if let Some(integration) = controller.db.unfinished_on(project, branch).await? {
        crate::integration::drive(controller, integration).await?;
        return Ok(true);
    }
    if controller.db.changes(project, branch, ChangeState::Staged).await?.is_empty() {
        return Ok(false);
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
            blocking(move || mirror.resolve(&head)).await??.ok_or_else(|| {
                ControllerError::System(format!(
                    "{project} has no branch `{branch}` at {}; create it, or stop gating it",
                    view.spec.url
                ))
            })?
        }
    };
    match controller.db.form(project, branch, tip.as_str()).await? {
        Some(integration) => {
            tracing::info!(integration = integration.id, project, branch, base = %tip, changes = integration.changes.len(), "integration formed");
            crate::integration::drive(controller, integration).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}
