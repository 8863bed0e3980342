//! Staging: through the API, and from the watched namespace `refs/staging/BRANCH/NAME` on each
//! project's remote (Gerrit-style staging without Gerrit).

use std::sync::Arc;

use tollgate_api::{ChangeView, ProjectView, StageRequest};
use tollgate_git::{CommitId, Mirror};
use tollgate_state::NewChange;

use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

const STAGING: &str = "refs/staging/";

impl Controller {
    /// Stages each named commit for the branch. Every name is resolved before anything is
    /// staged, so a typo stages nothing; a name the mirror does not know is fetched for once.
    pub async fn stage(&self, request: &StageRequest) -> Result<Vec<ChangeView>, ControllerError> {
        let project = self.gated_project(&request.project, &request.branch).await?;
        if request.changes.is_empty() {
            return Err(ControllerError::BadRequest("name at least one change to stage".into()));
        }
        let (name, url) = (&project.spec.name, &project.spec.url);
        let mut mirror = self.mirrors.mirror(name, url).await?;
        if !self.has_branch(&mirror, &request.branch).await? {
            mirror = self.fetch(&project).await?;
            if !self.has_branch(&mirror, &request.branch).await? {
                return Err(ControllerError::BadRequest(format!(
                    "{name} has no branch `{}` at {url}: a change staged there could never merge",
                    request.branch
                )));
            }
        }
        let mut commits = Vec::new();
        for change in &request.changes {
            let mut found = resolve(&mirror, change).await?;
            if found.is_none() {
                mirror = self.fetch(&project).await?;
                found = resolve(&mirror, change).await?;
            }
            match found {
                Some(commit) => commits.push(commit),
                None => {
                    return Err(ControllerError::BadRequest(format!(
                        "`{change}` is not a commit of {name} ({url}): neither a commit id nor a branch or staging ref there"
                    )));
                }
            }
        }
        let mut staged = Vec::new();
        for commit in commits {
            staged.push(self.stage_commit(&mirror, name, &request.branch, &commit, "api").await?);
        }
        // Woken once all are staged, so that one request is one batch.
        self.wake(name, &request.branch);
        Ok(staged)
    }

    async fn stage_commit(
        &self,
        mirror: &Arc<Mirror>,
        project: &str,
        branch: &str,
        commit: &CommitId,
        origin: &str,
    ) -> Result<ChangeView, ControllerError> {
        let described = {
            let (mirror, commit) = (mirror.clone(), commit.clone());
            blocking(move || mirror.describe(&commit)).await??
        };
        let summary = described.ok_or_else(|| {
            ControllerError::System(format!("{commit} vanished from the mirror of {project}"))
        })?;
        let (change, new) = self
            .db
            .stage(&NewChange {
                project,
                branch,
                commit: commit.as_str(),
                subject: &summary.subject,
                author: &summary.author,
                origin,
            })
            .await?;
        if new {
            // Keeps the commit in the mirror whatever happens to the ref that named it.
            let (mirror, kept) = (mirror.clone(), commit.clone());
            let keep = crate::keep::change_ref(change.id);
            blocking(move || mirror.set_ref(&keep, &kept)).await??;
            tracing::info!(change = change.id, project, branch, commit = %commit, origin, "staged");
        }
        Ok(change)
    }

    async fn has_branch(
        &self,
        mirror: &Arc<Mirror>,
        branch: &str,
    ) -> Result<bool, ControllerError> {
        let (mirror, branch) = (mirror.clone(), branch.to_owned());
        Ok(blocking(move || mirror.has_branch(&branch)).await??)
    }

    pub async fn unstage(
        &self,
        project: &str,
        branch: &str,
        change: &str,
    ) -> Result<ChangeView, ControllerError> {
        let unstaged = self.db.unstage(project, branch, change).await?;
        self.release_change(&unstaged).await;
        Ok(unstaged)
    }

    /// A project that gates `branch`, or the reason it does not.
    pub(crate) async fn gated_project(
        &self,
        project: &str,
        branch: &str,
    ) -> Result<ProjectView, ControllerError> {
        let view = self.db.project(project).await?.ok_or_else(|| {
            ControllerError::NotFound(format!(
                "no project `{project}`; add it first (`tollgate project add`)"
            ))
        })?;
        if !view.spec.branches.iter().any(|b| b == branch) {
            return Err(ControllerError::BadRequest(format!(
                "{project} does not gate branch `{branch}`; it gates: {}",
                view.spec.branches.join(", ")
            )));
        }
        Ok(view)
    }

    /// Fetches the project's mirror and records how it went.
    pub(crate) async fn fetch(
        &self,
        project: &ProjectView,
    ) -> Result<Arc<Mirror>, ControllerError> {
        let (name, url) = (&project.spec.name, &project.spec.url);
        match self.mirrors.fetch(name, url).await {
            Ok(mirror) => {
                self.db.set_fetched(name, None).await?;
                Ok(mirror)
            }
            Err(error) => {
                self.db.set_fetched(name, Some(&error.to_string())).await?;
                Err(error)
            }
        }
    }

    /// Fetches one project and stages what its staging refs name, once per commit.
    pub(crate) async fn poll_project(&self, project: &ProjectView) -> Result<(), ControllerError> {
        let mirror = self.fetch(project).await?;
        let refs = {
            let mirror = mirror.clone();
            blocking(move || mirror.refs(STAGING)).await??
        };
        let name = &project.spec.name;
        let mut woken = std::collections::BTreeSet::new();
        for (reference, commit) in refs {
            let Some(branch) = branch_of(&reference, &project.spec.branches) else { continue };
            if self.db.staging_ref(name, &reference).await?.as_deref() == Some(commit.as_str()) {
                continue;
            }
            self.stage_commit(&mirror, name, branch, &commit, &reference).await?;
            self.db.set_staging_ref(name, &reference, commit.as_str()).await?;
            woken.insert(branch);
        }
        for branch in woken {
            self.wake(name, branch);
        }
        Ok(())
    }
}

/// The gated branch a staging ref is for: `refs/staging/release/6.8/fix` is for `release/6.8`
/// when that branch is gated; the longest gated branch that fits wins.
fn branch_of<'a>(reference: &str, branches: &'a [String]) -> Option<&'a str> {
    let rest = reference.strip_prefix(STAGING)?;
    branches
        .iter()
        .filter(|branch| {
            rest.strip_prefix(branch.as_str())
                .is_some_and(|name| name.len() > 1 && name.starts_with('/'))
        })
        .max_by_key(|branch| branch.len())
        .map(String::as_str)
}

async fn resolve(mirror: &Arc<Mirror>, name: &str) -> Result<Option<CommitId>, ControllerError> {
    let mirror = mirror.clone();
    let name = name.to_owned();
    Ok(blocking(move || mirror.resolve(&name)).await??)
}

/// Fetches every project now and then, for staging refs and branch tips.
pub async fn poll(controller: Arc<Controller>) {
    loop {
        match controller.db.projects().await {
            Ok(projects) => {
                for project in projects {
                    if let Err(error) = controller.poll_project(&project).await {
                        tracing::warn!(project = project.spec.name, %error, "cannot fetch");
                    }
                }
            }
            Err(error) => tracing::error!(%error, "cannot read the projects"),
        }
        tokio::select! {
            () = controller.shutdown.cancelled() => return,
            () = tokio::time::sleep(controller.config.poll_interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::branch_of;

    #[test]
    fn a_staging_ref_names_its_branch() {
        let branches = vec!["main".to_owned(), "release/6.8".to_owned(), "release".to_owned()];
        assert_eq!(branch_of("refs/staging/main/fix-1", &branches), Some("main"));
        assert_eq!(branch_of("refs/staging/release/6.8/fix", &branches), Some("release/6.8"));
        assert_eq!(branch_of("refs/staging/release/other", &branches), Some("release"));
        assert_eq!(branch_of("refs/staging/main", &branches), None);
        assert_eq!(branch_of("refs/staging/dev/x", &branches), None);
    }
}
