//! The JSON routes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use tollgate_api::{
    ArchiveView, BranchDetail, BranchView, ChangeView, EventView, IntegrationView, MAX_PAGE, Page,
    ProjectRemoved, ProjectSpec, ProjectView, RemoveProject, StageRequest, StageResponse, Status,
    TestHistory, TestResult, UnstageRequest, WorkItemDetail, WorkItemState,
};
use tollgate_core::plan::BuildKey;
use tollgate_git::{GitError, Mirror};
use tollgate_state::{Cursor, Scope};
use tollgate_store::Store;

use crate::agents::WorkRef;
use crate::controller::Controller;
use crate::error::{ControllerError, blocking};
use crate::http::health;

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
pub struct BranchQuery {
    project: String,
    branch: String,
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn branch(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<BranchQuery>,
) -> Answer<BranchDetail> {
    let detail =
        controller.branch_detail(&query.project, &query.branch, query.before, limit(query.limit));
    Ok(Json(detail.await?))
}

#[derive(Deserialize)]
pub struct WorkItemQuery {
    integration: i64,
    item: String,
}

pub async fn work_item(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<WorkItemQuery>,
) -> Answer<WorkItemDetail> {
    Ok(Json(controller.work_item_detail(query.integration, &query.item).await?))
}

#[derive(Deserialize)]
pub struct TestsQuery {
    pub project: String,
    pub days: Option<i64>,
}

/// `GET /api/config`: the runtime configuration in force, and why the file was refused if it
/// was.
pub async fn config(State(controller): State<Arc<Controller>>) -> Json<tollgate_api::RuntimeView> {
    Json(controller.runtime_view())
}

/// `GET /api/tests?project=P&days=N`: the project's tests that failed lately.
pub async fn tests(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<TestsQuery>,
) -> Answer<Vec<TestHistory>> {
    if controller.db.project(&query.project).await?.is_none() {
        return Err(ControllerError::NotFound(format!("no project `{}`", query.project)));
    }
    let days = query.days.unwrap_or(30).clamp(1, 3660);
    let now = tollgate_state::now_ms();
    Ok(Json(controller.db.test_history(&query.project, days, now, MAX_PAGE).await?))
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
    /// Everything at once: projects, each branch with its queue and integrations, the slots,
    /// the agents, the warnings.
    pub async fn status(self: &Arc<Self>) -> Result<Status, ControllerError> {
        let projects = self.db.projects().await?;
        let mut tips = HashMap::new();
        for project in &projects {
            for (branch, tip) in self.tips(project).await? {
                tips.insert((project.spec.name.clone(), branch), tip);
            }
        }
        let mut branches = self.db.branch_views(&tips).await?;
        for branch in &mut branches {
            self.fill_branch(branch, &projects);
        }
        let (slots_busy, slots) = self.pool.total_load();
        let agents = health::agents_by_state(self).await?;
        let warnings = health::warnings(&self.branch_health().await?);
        Ok(Status { projects, branches, slots_busy, slots, agents, warnings })
    }

    /// One gated branch and a page of its history.
    pub async fn branch_detail(
        &self,
        project: &str,
        branch: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<BranchDetail, ControllerError> {
        if !self.db.is_gated(project, branch).await? {
            return Err(ControllerError::NotFound(format!(
                "{project} {branch} is not gated: `tollgate status` lists the gated branches"
            )));
        }
        let projects = self.db.projects().await?;
        let mut tip = None;
        if let Some(spec) = projects.iter().find(|p| p.spec.name == project) {
            tip = self.tips(spec).await?.into_iter().find(|(b, _)| b == branch).map(|(_, t)| t);
        }
        let mut view = self.db.branch_view(project.to_owned(), branch.to_owned(), tip).await?;
        self.fill_branch(&mut view, &projects);
        let scope = Scope::Branch { project, branch };
        let history = self.db.integrations(scope, before, limit).await?;
        Ok(BranchDetail { branch: view, history })
    }

    /// One work item of an integration, with where its result came from.
    pub async fn work_item_detail(
        &self,
        integration: i64,
        item: &str,
    ) -> Result<WorkItemDetail, ControllerError> {
        let no_item = || {
            ControllerError::NotFound(format!("integration {integration} has no work item {item}"))
        };
        let mut view = self.db.integration_view(integration, true).await?.ok_or_else(no_item)?;
        self.show_waiting(&mut view);
        let found = view.work_items.into_iter().find(|found| found.id == item);
        let item = found.ok_or_else(no_item)?;
        let reused_from = match item.state {
            WorkItemState::Reused => self.db.ran_before(&item.build_key, integration).await?,
            _ => None,
        };
        let (archives, tests) = match item.state {
            WorkItemState::Passed | WorkItemState::Reused | WorkItemState::Failed => {
                self.stored(&item.build_key).await?
            }
            _ => (Vec::new(), Vec::new()),
        };
        let (project, branch) = (view.project, view.branch);
        Ok(WorkItemDetail { integration, project, branch, item, reused_from, archives, tests })
    }

    /// What the store holds under a build key, with each blob's size.
    /// What the store holds under a build key: its archives, and the tests its results name.
    async fn stored(
        &self,
        build_key: &str,
    ) -> Result<(Vec<ArchiveView>, Vec<TestResult>), ControllerError> {
        let Some(key) = BuildKey::from_hex(build_key) else { return Ok(Default::default()) };
        let store = self.store.clone();
        blocking(move || {
            let record = store.record(&key).map_err(|error| {
                ControllerError::System(format!("cannot read the store's record: {error}"))
            })?;
            let Some(record) = record else { return Ok(Default::default()) };
            let archives = record
                .artifacts
                .into_iter()
                .map(|(name, digest)| ArchiveView {
                    bytes: std::fs::metadata(store.blob_path(&digest)).ok().map(|m| m.len()),
                    digest: digest.to_string(),
                    name,
                })
                .collect();
            Ok((archives, record.tests))
        })
        .await?
    }

    /// The tips of a project's gated branches.
    async fn tips(&self, project: &ProjectView) -> Result<Vec<(String, String)>, ControllerError> {
        let mirror = self.mirrors.mirror(&project.spec.name, &project.spec.url).await?;
        let branches = project.spec.branches.clone();
        Ok(blocking(move || branch_tips(&mirror, &branches)).await??)
    }

    /// What the state does not know of a branch: whether the remote lost it, why its work
    /// items wait.
    fn fill_branch(&self, branch: &mut BranchView, projects: &[ProjectView]) {
        if branch.tip.is_none() {
            branch.missing =
                projects.iter().any(|p| p.spec.name == branch.project && p.fetched_at.is_some());
        }
        if let Some(current) = branch.current.as_mut() {
            self.show_waiting(current);
        }
    }
}

impl Controller {
    /// Says why the integration's waiting work items wait, for those no agent can run.
    pub(crate) fn show_waiting(&self, view: &mut IntegrationView) {
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
