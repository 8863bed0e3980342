//! What `tollgate reproduce` asks for: an integration's pins with one work item's build key
//! and end, and the store's records by build key. The sources come over `/api/git/`, the
//! archives over `/api/blobs/` (the agents' handlers, as reads).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use tollgate_api::{IntegrationState, Reproduction};
use tollgate_core::plan::BuildKey;
use tollgate_store::{Record, Store};

use super::api::Answer;
use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

#[derive(Deserialize)]
pub struct ReproduceQuery {
    integration: i64,
    item: String,
}

/// `GET /api/reproduce?integration=ID&item=WORK_ITEM`.
pub async fn reproduce(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<ReproduceQuery>,
) -> Answer<Reproduction> {
    Ok(Json(controller.reproduction(query.integration, &query.item).await?))
}

/// `GET /api/records/{build_key}`: what the store holds under a build key.
pub async fn record(
    State(controller): State<Arc<Controller>>,
    Path(text): Path<String>,
) -> Answer<Record> {
    let key = BuildKey::from_hex(&text)
        .ok_or_else(|| ControllerError::BadRequest(format!("`{text}` is not a build key")))?;
    let store = controller.store.clone();
    match blocking(move || store.record(&key)).await? {
        Ok(Some(record)) => Ok(Json(record)),
        Ok(None) => Err(ControllerError::NotFound(format!("the store has no result for {text}"))),
        Err(error) => Err(ControllerError::System(format!("the store: {error}"))),
    }
}

impl Controller {
    /// What reproduces `item` of `integration`: refused when the integration was never
    /// planned, or when its commit is not kept any more.
    pub(crate) async fn reproduction(
        &self,
        integration: i64,
        item: &str,
    ) -> Result<Reproduction, ControllerError> {
        let view =
            self.db.integration_view(integration, true).await?.ok_or_else(|| {
                ControllerError::NotFound(format!("no integration {integration}"))
            })?;
        let Some(found) = view.work_items.iter().find(|found| found.id == item) else {
            let known: Vec<&str> = view.work_items.iter().map(|w| w.id.as_str()).collect();
            return Err(ControllerError::NotFound(match known.is_empty() {
                true => format!("integration {integration} has no work items"),
                false => format!(
                    "integration {integration} has no work item {item}; it has: {}",
                    known.join(", ")
                ),
            }));
        };
        let Some(pins) = self.db.pins(integration).await? else {
            return Err(ControllerError::Conflict(format!(
                "integration {integration} has no pins kept: it was planned by a tollgate from before they were"
            )));
        };
        let kept = match view.state {
            IntegrationState::Rejected => {
                let newest = self.db.newest_rejected(&view.project, self.config.keep_rejected);
                newest.await?.contains(&integration)
            }
            // On the branch, or kept while it runs.
            IntegrationState::Merged
            | IntegrationState::Forming
            | IntegrationState::Running
            | IntegrationState::Pushing => true,
            _ => false,
        };
        if !kept {
            return Err(ControllerError::Conflict(format!(
                "integration {integration} ({}) is not kept: the mirror keeps the commits of running and merged integrations and of a project's {} newest rejected ones (`keep_rejected`)",
                view.state.as_str(),
                self.config.keep_rejected
            )));
        }
        Ok(Reproduction {
            integration,
            work_item: found.id.clone(),
            build_key: found.build_key.clone(),
            branch: view.branch.clone(),
            state: found.state,
            failure: found.failure.clone(),
            pins,
        })
    }
}
