//! The quarantine routes: list (a read), add and remove (admins).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use tollgate_api::{NewQuarantine, QuarantineView};

use super::api::Answer;
use super::auth::Caller;
use crate::controller::Controller;

#[derive(Deserialize)]
pub struct ListQuery {
    pub project: Option<String>,
    /// Ended and removed entries too.
    #[serde(default)]
    pub all: bool,
}

pub async fn list(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<ListQuery>,
) -> Answer<Vec<QuarantineView>> {
    Ok(Json(controller.quarantine(query.project.as_deref(), query.all).await?))
}

pub async fn add(
    State(controller): State<Arc<Controller>>,
    caller: Option<Extension<Caller>>,
    Json(new): Json<NewQuarantine>,
) -> Answer<QuarantineView> {
    let by = caller.map(|Extension(caller)| caller.name);
    let added = controller.add_quarantine(new, by.as_deref()).await?;
    tracing::info!(
        id = added.id,
        project = added.project,
        test = added.test,
        by,
        "test quarantined"
    );
    Ok(Json(added))
}

pub async fn remove(
    State(controller): State<Arc<Controller>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<i64>,
) -> Answer<QuarantineView> {
    let by = caller.map(|Extension(caller)| caller.name);
    let removed = controller.remove_quarantine(id, by.as_deref()).await?;
    tracing::info!(id, test = removed.test, by, "quarantine entry removed");
    Ok(Json(removed))
}
