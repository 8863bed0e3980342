//! Projects added or changed while the service runs (API, CLI); the TOML file's are added at
//! startup.

use std::sync::Arc;

use tollgate_api::{ProjectSpec, ProjectView};
use tollgate_core::source::ProjectName;

use crate::controller::Controller;
use crate::error::ControllerError;

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
        self.mirrors.fetch(&spec.name, &spec.url).await.map_err(|error| {
            ControllerError::BadRequest(format!(
                "cannot fetch {} from {}: {error}",
                spec.name, spec.url
            ))
        })?;
        self.db.upsert_project(&spec).await?;
        let view = self.db.project(&spec.name).await?.expect("just written");
        self.poll_project(&view).await?;
        for branch in &spec.branches {
            self.gate_branch(&spec.name, branch);
        }
        tracing::info!(project = spec.name, url = spec.url, branches = ?spec.branches, "project added");
        Ok(self.db.project(&spec.name).await?.expect("just written"))
    }
}
