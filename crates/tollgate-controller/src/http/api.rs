//! The JSON routes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use tollgate_api::{
    ChangeView, EventView, IntegrationView, ProjectSpec, ProjectView, StageRequest, StageResponse,
    Status, UnstageRequest,
};

use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

type Answer<T> = Result<Json<T>, ControllerError>;

pub async fn status(State(controller): State<Arc<Controller>>) -> Answer<Status> {
    Ok(Json(controller.status().await?))
}

pub async fn projects(State(controller): State<Arc<Controller>>) -> Answer<Vec<ProjectView>> {
    Ok(Json(controller.db.projects().await?))
}

pub async fn add_project(
    State(controller): State<Arc<Controller>>,
    Json(spec): Json<ProjectSpec>,
) -> Answer<ProjectView> {
    Ok(Json(controller.add_project(spec).await?))
}

pub async fn stage(
    State(controller): State<Arc<Controller>>,
    Json(request): Json<StageRequest>,
) -> Answer<StageResponse> {
    Ok(Json(StageResponse { changes: controller.stage(&request).await? }))
}

pub async fn unstage(
    State(controller): State<Arc<Controller>>,
    Json(request): Json<UnstageRequest>,
) -> Answer<ChangeView> {
    Ok(Json(controller.unstage(&request.project, &request.branch, &request.change).await?))
}

pub async fn change(
    State(controller): State<Arc<Controller>>,
    Path(id): Path<i64>,
) -> Answer<ChangeView> {
    let change = controller.db.change(id).await?;
    Ok(Json(change.ok_or_else(|| ControllerError::NotFound(format!("no change {id}")))?))
}

#[derive(Deserialize)]
pub struct IntegrationsQuery {
    project: Option<String>,
    branch: Option<String>,
    limit: Option<i64>,
}

pub async fn integrations(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<IntegrationsQuery>,
) -> Answer<Vec<IntegrationView>> {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let list = controller.db.integrations(query.project.as_deref(), query.branch.as_deref(), limit);
    Ok(Json(list.await?))
}

pub async fn integration(
    State(controller): State<Arc<Controller>>,
    Path(id): Path<i64>,
) -> Answer<IntegrationView> {
    let view = controller.db.integration_view(id, true).await?;
    Ok(Json(view.ok_or_else(|| ControllerError::NotFound(format!("no integration {id}")))?))
}

pub async fn cancel(
    State(controller): State<Arc<Controller>>,
    Path(id): Path<i64>,
) -> Answer<IntegrationView> {
    Ok(Json(controller.cancel(id).await?))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<i64>,
    integration: Option<i64>,
    limit: Option<i64>,
}

pub async fn events(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<EventsQuery>,
) -> Answer<Vec<EventView>> {
    let limit = query.limit.unwrap_or(1000).clamp(1, 10_000);
    Ok(Json(controller.db.events(query.after.unwrap_or(0), query.integration, limit).await?))
}

impl Controller {
    /// Everything at once: projects, each branch with its queue and integrations, the slots.
    pub async fn status(&self) -> Result<Status, ControllerError> {
        let projects = self.db.projects().await?;
        let mut tips = HashMap::new();
        for project in &projects {
            let mirror = self.mirrors.mirror(&project.spec.name, &project.spec.url).await?;
            for (reference, commit) in blocking(move || mirror.refs("refs/heads/")).await?? {
                let branch = reference.trim_start_matches("refs/heads/").to_owned();
                tips.insert((project.spec.name.clone(), branch), commit.to_string());
            }
        }
        let branches = self.db.branch_views(&tips).await?;
        Ok(Status { projects, branches, slots_busy: self.slots.busy(), slots: self.slots.total() })
    }
}
