//! Projects added or changed while the service runs (API, CLI); the TOML file's are added at
//! startup.

use std::sync::Arc;

use tollgate_api::{ProjectRemoved, ProjectSpec, ProjectView, RemoveProject};
use tollgate_core::source::ProjectName;

use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

impl Controller {
    /// Adds or updates a project once its remote answers, and starts gating its branches.
    pub async fn add_project(
        self: &Arc<Self>,
        spec: ProjectSpec,
    ) -> Result<ProjectView, ControllerError> {
        if ProjectName::new(&spec.name).is_none() {
            return Err(ControllerError::BadRequest(format!(
                "`{}` is not a project name (expected something like `qt/qtbase`)",
                spec.name
            )));
        }
        if let Some(product) = &spec.product
            && ProjectName::new(product).is_none()
        {
            return Err(ControllerError::BadRequest(format!(
                "product `{product}` is not a project name"
            )));
        }
        let mirror = self.mirrors.fetch(&spec.name, &spec.url).await.map_err(|error| {
            ControllerError::BadRequest(format!(
                "cannot fetch {} from {}: {error}",
                spec.name, spec.url
            ))
        })?;
        // A branch the remote lacks would be gated by nobody: a change staged there would wait
        // for ever.
        let missing = {
            let (mirror, branches) = (mirror.clone(), spec.branches.clone());
            blocking(move || {
                let mut missing = Vec::new();
                for branch in branches {
                    if !mirror.has_branch(&branch)? {
                        missing.push(branch);
                    }
                }
                Ok::<_, tollgate_git::GitError>(missing)
            })
            .await??
        };
        if !missing.is_empty() {
            let have = {
                let mirror = mirror.clone();
                blocking(move || mirror.refs("refs/heads/")).await??
            };
            let have: Vec<&str> =
                have.iter().filter_map(|(name, _)| name.strip_prefix("refs/heads/")).collect();
            return Err(ControllerError::BadRequest(format!(
                "{} has no branch {} at {}; its branches: {}",
                spec.name,
                missing.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", "),
                spec.url,
                if have.is_empty() { "none".to_owned() } else { have.join(", ") }
            )));
        }
        self.db.upsert_project(&spec).await?;
        let view = self.db.project(&spec.name).await?.expect("just written");
        self.poll_project(&view).await?;
        for branch in &spec.branches {
            self.gate_branch(&spec.name, branch);
        }
        tracing::info!(project = spec.name, url = spec.url, branches = ?spec.branches, "project added");
        Ok(self.db.project(&spec.name).await?.expect("just written"))
    }

    /// Stops gating the named branches of a project, or the whole project when none are
    /// named. Its staged changes there are unstaged; refused while one of those branches runs
    /// an integration, and for a project of the configuration file, which would come back at
    /// the next start.
    pub async fn remove_project(
        &self,
        request: &RemoveProject,
    ) -> Result<ProjectRemoved, ControllerError> {
        let name = &request.project;
        if self.config.projects.iter().any(|p| &p.name == name) {
            return Err(ControllerError::BadRequest(format!(
                "{name} is in the configuration file; remove it (or its branches) there and restart"
            )));
        }
        let before = self
            .db
            .project(name)
            .await?
            .ok_or_else(|| ControllerError::NotFound(format!("no project `{name}`")))?;
        let named = (!request.branches.is_empty()).then_some(request.branches.as_slice());
        let unstaged = self.db.remove_branches(name, named).await?;
        let branches = match named {
            Some(named) => named.to_vec(),
            None => before.spec.branches.clone(),
        };
        for branch in &branches {
            self.ungate_branch(name, branch);
        }
        self.release_changes(name, &unstaged).await;
        tracing::info!(
            project = name,
            ?branches,
            ?unstaged,
            forgotten = named.is_none(),
            "project removed"
        );
        Ok(ProjectRemoved { project: name.clone(), branches, forgotten: named.is_none(), unstaged })
    }
}
