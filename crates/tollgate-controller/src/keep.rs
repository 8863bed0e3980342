//! The refs a mirror keeps of its own: `refs/tollgate/changes/N` while change N waits or
//! runs, `refs/tollgate/integrations/N` while integration N has not finished, and after that
//! while it is one of its project's `keep_rejected` newest rejected integrations.
//!
//! They keep commits that nothing else in the mirror may name: a change staged by its id, or
//! whose staging ref went away on the remote, and an integration commit until it is pushed.
//! Forming, planning and the runner read those commits from the mirror, and a resumed
//! integration finds its commit again. Once a change is decided its ref has no use: merged,
//! the branch holds the commit; rejected or unstaged, nothing integrates it again (the state
//! keeps its commit id for the log, and staging it again makes a new change with its own
//! ref). A finished integration is never resumed, and its changes, when they go back to staged
//! (errored, cancelled, superseded), form a new integration with its own ref. A rejected
//! integration's commit is kept a while longer for `tollgate reproduce`, which fetches it:
//! once newer rejections push it out of the newest `keep_rejected`, its ref goes too.
//!
//! So each ref goes right after the transition that ends its need, committed first like any
//! side effect; a deletion that fails is logged and left to the sweep. A controller killed in
//! between leaves refs behind, as does one from before refs were deleted: the sweep at startup
//! removes those, so that a mirror with years of refs gets small.
//!
//! On the remote, a decided change's staging ref (`refs/staging/BRANCH/NAME`) goes too, in
//! one push per integration, each only while it still names the change's commit: a developer
//! who pushed again there meanwhile keeps the ref, and the new commit is staged.

use std::collections::HashSet;
use std::sync::Arc;

use tollgate_api::{ChangeView, IntegrationState, ProjectView};
use tollgate_git::Mirror;
use tollgate_state::Formed;

use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

const CHANGES: &str = "refs/tollgate/changes/";
const INTEGRATIONS: &str = "refs/tollgate/integrations/";

/// The ref that keeps a staged change's commit.
pub(crate) fn change_ref(change: i64) -> String {
    format!("{CHANGES}{change}")
}

/// The ref that keeps an integration's commit.
pub(crate) fn integration_ref(integration: i64) -> String {
    format!("{INTEGRATIONS}{integration}")
}

impl Controller {
    /// After an integration's drive: the refs of its changes that are decided now, and its own
    /// once it has finished.
    pub(crate) async fn release_integration(&self, integration: &Formed) {
        let mut names = Vec::new();
        let mut staging = Vec::new();
        for (change, _) in &integration.changes {
            match self.db.change(*change).await {
                Ok(Some(view)) if !view.state.is_final() => {}
                Ok(Some(view)) => {
                    names.push(change_ref(*change));
                    if view.origin.starts_with("refs/staging/")
                        && let Some(commit) = tollgate_git::CommitId::parse(&view.commit)
                    {
                        staging.push((view.origin, commit));
                    }
                }
                Ok(None) => names.push(change_ref(*change)),
                Err(error) => {
                    tracing::warn!(change, %error, "cannot read the change; its ref stays");
                }
            }
        }
        match integration.state {
            IntegrationState::Rejected => names.extend(self.pushed_out(&integration.project).await),
            state if state.is_final() => names.push(integration_ref(integration.id)),
            _ => {}
        }
        self.release(&integration.project, names).await;
        self.retire_staging_refs(&integration.project, staging).await;
    }

    /// Removes from the remote the staging refs of decided changes, so that the namespace
    /// holds only what waits. A ref a developer moved meanwhile stays, and is staged anew.
    async fn retire_staging_refs(
        &self,
        project: &str,
        refs: Vec<(String, tollgate_git::CommitId)>,
    ) {
        let Some(mirror) = self.mirrors.opened(project) else { return };
        if refs.is_empty() {
            return;
        }
        let names: Vec<String> = refs.iter().map(|(name, _)| name.clone()).collect();
        let deleted: Result<Vec<bool>, ControllerError> =
            async { Ok(blocking(move || mirror.delete_staging_refs(&refs)).await??) }.await;
        let gone = match deleted {
            Ok(gone) => gone,
            Err(error) => {
                tracing::warn!(project, ?names, %error, "cannot remove the staging refs of decided changes");
                return;
            }
        };
        for (name, gone) in names.iter().zip(gone) {
            if !gone {
                tracing::info!(project, name, "the staging ref moved meanwhile; it stays");
                continue;
            }
            tracing::info!(project, name, "the decided change's staging ref is removed");
            if let Err(error) = self.db.forget_staging_ref(project, name).await {
                tracing::warn!(project, name, %error, "cannot forget the staging ref");
            }
        }
    }

    /// The ref of the rejected integration that a new rejection pushed out of the newest
    /// `keep_rejected`, if any.
    async fn pushed_out(&self, project: &str) -> Option<String> {
        let kept = self.config.keep_rejected;
        match self.db.newest_rejected(project, kept + 1).await {
            Ok(newest) => newest.get(kept as usize).map(|&id| integration_ref(id)),
            Err(error) => {
                tracing::warn!(project, %error, "cannot read the rejected integrations; their refs stay");
                None
            }
        }
    }

    /// After a change was unstaged.
    pub(crate) async fn release_change(&self, change: &ChangeView) {
        self.release_changes(&change.project, &[change.id]).await;
    }

    /// After changes of a project were unstaged.
    pub(crate) async fn release_changes(&self, project: &str, changes: &[i64]) {
        self.release(project, changes.iter().map(|&id| change_ref(id)).collect()).await;
    }

    async fn release(&self, project: &str, names: Vec<String>) {
        // A mirror this run has not opened was given no refs in this run; older ones are the
        // sweep's.
        let Some(mirror) = self.mirrors.opened(project) else { return };
        if names.is_empty() {
            return;
        }
        if let Err(error) = delete(&mirror, names).await {
            warn_kept(project, &error);
        }
    }

    /// Removes the project's `refs/tollgate/` refs that nothing needs any more. The refs are
    /// listed before the state is read: a ref is set only after its change or integration is
    /// in the state, and decided and finished are for good, so a ref listed here and found
    /// waiting is kept, and one found decided (or missing, hand-made) can go; a rejected
    /// integration's stays while it is among the newest.
    pub(crate) async fn sweep(&self, project: &ProjectView) {
        if let Err(error) = self.try_sweep(project).await {
            warn_kept(&project.spec.name, &error);
        }
    }

    async fn try_sweep(&self, project: &ProjectView) -> Result<(), ControllerError> {
        let name = &project.spec.name;
        let mirror = self.mirrors.mirror(name, &project.spec.url).await?;
        let listed = {
            let mirror = mirror.clone();
            blocking(move || mirror.refs("refs/tollgate/")).await??
        };
        if listed.is_empty() {
            return Ok(());
        }
        let waiting: HashSet<i64> = self.db.undecided_changes(name).await?.into_iter().collect();
        let mut kept: HashSet<i64> = self.db.unfinished().await?.iter().map(|i| i.id).collect();
        kept.extend(self.db.newest_rejected(name, self.config.keep_rejected).await?);
        let stale: Vec<String> = listed
            .into_iter()
            .map(|(reference, _)| reference)
            .filter(|reference| {
                let id = |prefix| reference.strip_prefix(prefix)?.parse::<i64>().ok();
                match (id(CHANGES), id(INTEGRATIONS)) {
                    (Some(change), _) => !waiting.contains(&change),
                    (_, Some(integration)) => !kept.contains(&integration),
                    _ => false,
                }
            })
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let count = stale.len();
        delete(&mirror, stale).await?;
        tracing::info!(
            project = name,
            refs = count,
            "removed the refs of decided changes and finished integrations"
        );
        Ok(())
    }
}

async fn delete(mirror: &Arc<Mirror>, names: Vec<String>) -> Result<(), ControllerError> {
    let mirror = mirror.clone();
    Ok(blocking(move || mirror.delete_refs(&names)).await??)
}

fn warn_kept(project: &str, error: &ControllerError) {
    tracing::warn!(project, %error, "cannot remove refs that are no longer needed; the next startup tries again");
}
