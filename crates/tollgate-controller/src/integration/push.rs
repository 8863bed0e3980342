//! Pushing: the branch moves to the integration commit by compare-and-swap, or not at all.
//!
//! The push carries the base as the expected old value. When the push is resumed after a
//! restart, the remote is asked first: at the integration commit already, the push happened
//! before the crash and is recorded as merged, so nothing is pushed twice. A refused push, or
//! a remote anywhere else: the branch moved meanwhile, and the changes are integrated again on
//! the new tip; never forced.

use std::sync::Arc;

use tollgate_api::{IntegrationState, ProjectView};
use tollgate_git::{BranchMove, CommitId, Mirror, Push};
use tollgate_state::Formed;

use super::commit_id;
use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

pub async fn push(
    controller: &Controller,
    project: &ProjectView,
    mirror: &Arc<Mirror>,
    integration: &Formed,
    resumed: bool,
) -> Result<(), ControllerError> {
    let commit = commit_id(integration.commit.as_deref().unwrap_or_default())?;
    let base = commit_id(&integration.base)?;
    // Decided in this run, so not pushed yet: the compare-and-swap alone says whether the
    // branch is still at the base.
    let remote = match resumed {
        true => remote_branch(mirror, &integration.branch).await?,
        false => Some(base.clone()),
    };
    let moved_to = match remote {
        Some(tip) if tip == commit => {
            let how = "the remote branch was already at the integration commit";
            controller.db.merged(integration, how).await?;
            tracing::info!(integration = integration.id, "merged (found on the remote)");
            return Ok(());
        }
        Some(tip) if tip == base => {
            let pushes = controller.mirrors.pushes(&project.spec.name, &project.spec.url).await?;
            let step = BranchMove {
                branch: integration.branch.clone(),
                from: base.clone(),
                to: commit.clone(),
            };
            let pushed = pushes.push(step).await?;
            match pushed {
                Push::Pushed | Push::AlreadyThere => {
                    controller.db.merged(integration, "pushed").await?;
                    tracing::info!(integration = integration.id, commit = %commit, "merged");
                    return Ok(());
                }
                Push::NotFastForward => {
                    return Err(ControllerError::System(format!(
                        "integration commit {commit} does not descend from {base}; not pushed"
                    )));
                }
                Push::Rejected { reason } => {
                    tracing::info!(integration = integration.id, reason, "the push was refused");
                    let now = remote_branch(mirror, &integration.branch).await?;
                    if now.as_ref() == Some(&commit) {
                        controller.db.merged(integration, "pushed").await?;
                        return Ok(());
                    }
                    now
                }
            }
        }
        other => other,
    };
    let moved_to = moved_to.map_or_else(|| "nowhere (deleted)".to_owned(), |tip| tip.to_string());
    let note = format!(
        "{} moved on the remote from {} to {moved_to} during the integration; the changes are integrated again on the new tip",
        integration.branch, integration.base
    );
    tracing::info!(integration = integration.id, note, "superseded");
    controller.db.give_back(integration, IntegrationState::Superseded, &note).await?;
    controller.fetch(project).await?;
    Ok(())
}

async fn remote_branch(
    mirror: &Arc<Mirror>,
    branch: &str,
) -> Result<Option<CommitId>, ControllerError> {
    let (mirror, branch) = (mirror.clone(), branch.to_owned());
    Ok(blocking(move || mirror.remote_branch(&branch)).await??)
}
