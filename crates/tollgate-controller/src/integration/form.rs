//! Forming: each change merged onto the tip in staging order, without a work tree.
//!
//! A change that already contains the tip is taken as it is (a fast-forward); one that
//! conflicts is rejected on its own, with the paths, and the batch goes on without it. The
//! merge commits take the integration's creation time, so forming again after a crash makes
//! the same commit.

use std::sync::Arc;

use tollgate_git::{CommitId, GitError, Identity, Merge, Mirror};
use tollgate_state::{Formed, MergeOutcome};

use super::commit_id;
use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

/// Records the merges and the integration commit; `None` when every change conflicted.
pub async fn merge(
    controller: &Controller,
    mirror: &Arc<Mirror>,
    integration: &Formed,
) -> Result<Option<String>, ControllerError> {
    let (mirror, formed) = (mirror.clone(), integration.clone());
    let (merges, commit) = blocking(move || merge_changes(&mirror, &formed)).await??;
    controller.db.formed(integration, &merges, commit.as_ref().map(CommitId::as_str)).await?;
    // The branch may form the next integration on this one's commit.
    controller.wake(&integration.project, &integration.branch);
    if let Some(commit) = &commit {
        tracing::info!(integration = integration.id, commit = %commit, "integration commit made");
    }
    Ok(commit.map(|commit| commit.as_str().to_owned()))
}

type Merged = (Vec<(i64, MergeOutcome)>, Option<CommitId>);

fn merge_changes(mirror: &Mirror, integration: &Formed) -> Result<Merged, GitError> {
    let mut current = commit_id(&integration.base)?;
    let identity = Identity { name: "tollgate".to_owned(), email: "tollgate@localhost".to_owned() };
    let time = integration.created_at / 1000;
    let mut merges = Vec::new();
    for (change, commit) in &integration.changes {
        let commit = commit_id(commit)?;
        let outcome = if mirror.is_ancestor(&current, &commit)? {
            current = commit;
            MergeOutcome::FastForward
        } else if mirror.is_ancestor(&commit, &current)? {
            // Already on the branch: nothing to merge, nothing to reject.
            MergeOutcome::FastForward
        } else {
            match mirror.merge(&current, &commit)? {
                Merge::Clean(tree) => {
                    let message = format!(
                        "Merge change {change} ({}) into {}",
                        &commit.as_str()[..12],
                        integration.branch
                    );
                    current =
                        mirror.commit_tree(&tree, &[current, commit], &message, &identity, time)?;
                    MergeOutcome::Merged
                }
                Merge::Conflict(paths) => MergeOutcome::Conflict(paths),
                Merge::Unrelated => MergeOutcome::Unrelated,
            }
        };
        merges.push((*change, outcome));
    }
    let any = merges
        .iter()
        .any(|(_, outcome)| matches!(outcome, MergeOutcome::FastForward | MergeOutcome::Merged));
    if !any {
        return Ok((merges, None));
    }
    mirror.set_ref(&crate::keep::integration_ref(integration.id), &current)?;
    Ok((merges, Some(current)))
}
