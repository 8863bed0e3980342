//! The JSON routes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use tollgate_api::{
    ChangeView, EventView, IntegrationView, MAX_PAGE, Page, ProjectRemoved, ProjectSpec,
    ProjectView, RemoveProject, StageRequest, StageResponse, Status, UnstageRequest, WorkItemState,
};
use tollgate_git::{GitError, Mirror};
use tollgate_state::{Cursor, Scope};

use crate::agents::WorkRef;
use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

pub(super) type Answer<T> = Result<Json<T>, ControllerError>;

/// A list's page size when the request does not say.
const DEFAULT_PAGE: i64 = 50;

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

pub async fn remove_project(
    State(controller): State<Arc<Controller>>,
    Json(request): Json<RemoveProject>,
) -> Answer<ProjectRemoved> {
    Ok(Json(controller.remove_project(&request).await?))
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
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn integrations(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<IntegrationsQuery>,
) -> Answer<Page<IntegrationView>> {
    let scope = match (query.project.as_deref(), query.branch.as_deref()) {
        (None, None) => Scope::All,
        (Some(project), None) => Scope::Project(project),
        (Some(project), Some(branch)) => Scope::Branch { project, branch },
        (None, Some(_)) => {
            return Err(ControllerError::BadRequest("`branch` needs its `project`".into()));
        }
    };
    let page = controller.db.integrations(scope, query.before, limit(query.limit));
    Ok(Json(page.await?))
}

pub async fn integration(
    State(controller): State<Arc<Controller>>,
    Path(id): Path<i64>,
) -> Answer<IntegrationView> {
    let mut view = controller.db.integration_view(id, true).await?;
    if let Some(view) = &mut view {
        controller.show_waiting(view);
    }
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
    before: Option<i64>,
    after: Option<i64>,
    integration: Option<i64>,
    limit: Option<i64>,
}

pub async fn events(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<EventsQuery>,
) -> Answer<Page<EventView>> {
    let cursor = match (query.before, query.after) {
        (None, None) => Cursor::Newest,
        (Some(before), None) => Cursor::Before(before),
        (None, Some(after)) => Cursor::After(after),
        (Some(_), Some(_)) => {
            return Err(ControllerError::BadRequest("`before` or `after`, not both".into()));
        }
    };
    let page = controller.db.events(query.integration, cursor, limit(query.limit));
    Ok(Json(page.await?))
}

/// A list's page size: what was asked, within bounds.
fn limit(asked: Option<i64>) -> i64 {
    asked.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

impl Controller {
    /// Everything at once: projects, each branch with its queue and integrations, the slots.
    pub async fn status(&self) -> Result<Status, ControllerError> {
        let projects = self.db.projects().await?;
        let mut tips = HashMap::new();
        for project in &projects {
            let mirror = self.mirrors.mirror(&project.spec.name, &project.spec.url).await?;
            let branches = project.spec.branches.clone();
            for (branch, tip) in blocking(move || branch_tips(&mirror, &branches)).await?? {
                tips.insert((project.spec.name.clone(), branch), tip);
            }
        }
        let mut branches = self.db.branch_views(&tips).await?;
        for branch in branches.iter_mut().filter(|branch| branch.tip.is_none()) {
            let fetched =
                projects.iter().any(|p| p.spec.name == branch.project && p.fetched_at.is_some());
            branch.missing = fetched;
        }
        for current in branches.iter_mut().filter_map(|branch| branch.current.as_mut()) {
            self.show_waiting(current);
        }
        let (slots_busy, slots) = self.pool.total_load();
        Ok(Status { projects, branches, slots_busy, slots })
    }
}

impl Controller {
    /// Says why the integration's waiting work items wait, for those no agent can run.
    fn show_waiting(&self, view: &mut IntegrationView) {
        for item in view.work_items.iter_mut().filter(|item| item.state == WorkItemState::Waiting) {
            let key = WorkRef { integration: view.id, item: item.id.clone() };
            item.waiting = self.pool.waiting(&key);
        }
    }
}

/// The tips of the gated branches, from the mirror's long-lived `cat-file`: listing its refs
/// would start a git per project and request. A branch the remote does not have is left out.
fn branch_tips(mirror: &Mirror, branches: &[String]) -> Result<Vec<(String, String)>, GitError> {
    let mut tips = Vec::new();
    for branch in branches {
        if let Some(tip) = mirror.resolve(&format!("refs/heads/{branch}"))? {
            tips.push((branch.clone(), tip.to_string()));
        }
    }
    Ok(tips)
}
