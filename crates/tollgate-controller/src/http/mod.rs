//! The HTTP API (JSON, see `tollgate_api::routes`) and the web pages (`crate::pages`), behind
//! the check of tokens (`auth.rs`).

pub(crate) mod agent;
pub(crate) mod api;
mod auth;
mod errors;
mod health;
pub(crate) mod log;
pub(crate) mod quarantine;
mod reproduce;
mod stream;
mod tokens;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tollgate_api::{ApiError, routes};

use crate::controller::Controller;
use crate::error::ControllerError;

pub async fn serve(controller: Arc<Controller>, listener: tokio::net::TcpListener) {
    let shutdown = controller.shutdown.clone();
    let app = crate::pages::routes()
        .route(health::HEALTHZ, get(health::healthz))
        .route(health::READYZ, get(health::readyz))
        .route(health::METRICS, get(health::metrics))
        .route(routes::STATUS, get(api::status))
        .route(routes::BRANCH, get(api::branch))
        .route(routes::WORK_ITEM, get(api::work_item))
        .route(routes::PROJECTS, get(api::projects).post(api::add_project))
        .route(routes::REMOVE_PROJECT, post(api::remove_project))
        .route(routes::STAGE, post(api::stage))
        .route(routes::UNSTAGE, post(api::unstage))
        .route("/api/changes/{id}", get(api::change))
        .route(routes::INTEGRATIONS, get(api::integrations))
        .route("/api/integrations/{id}", get(api::integration))
        .route("/api/integrations/{id}/cancel", post(api::cancel))
        .route(routes::EVENTS, get(api::events))
        .route(routes::EVENTS_STREAM, get(stream::events))
        .route(routes::LOG, get(log::log))
        .route(routes::LOG_STREAM, get(log::stream))
        .route(routes::REPRODUCE, get(reproduce::reproduce))
        .route(routes::TESTS, get(api::tests))
        .route(routes::QUARANTINE, get(quarantine::list).post(quarantine::add))
        .route(routes::CONFIG, get(api::config))
        .route("/api/quarantine/{id}/remove", post(quarantine::remove))
        .route("/api/records/{key}", get(reproduce::record))
        .route("/api/blobs/{digest}", get(agent::get_blob).head(agent::has_blob))
        .route("/api/git/{*rest}", get(agent::git).post(agent::git))
        .route(routes::TOKENS, get(tokens::list).post(tokens::add))
        .route("/api/tokens/{name}/revoke", post(tokens::revoke))
        .route(routes::AGENTS, get(agent::agents))
        .route("/api/agents/{name}/drain", post(agent::drain))
        .route(routes::AGENT_REGISTER, post(agent::register))
        .route(routes::AGENT_POLL, post(agent::poll))
        .route(routes::AGENT_REPORT, post(agent::report))
        .route("/api/agent/log/{lease}", post(agent::log))
        .route(
            "/api/agent/blobs/{digest}",
            get(agent::get_blob).head(agent::has_blob).put(agent::put_blob),
        )
        .route("/api/agent/git/{*rest}", get(agent::git).post(agent::git))
        .fallback(errors::unknown_route)
        // After the routes, so that it guards every route above; a route added below it
        // would be open.
        .layer(axum::middleware::from_fn_with_state(controller.clone(), auth::check))
        .layer(axum::middleware::from_fn(errors::as_json))
        .with_state(controller.clone());
    // Behind a reverse proxy at `https://host/tollgate/`: every route under the base path,
    // and the routes see their own paths (`/api/...`), so the checks of tokens do not change.
    let base = &controller.config.base_path;
    let app = match base.is_empty() {
        true => app,
        false => Router::new()
            .nest(base, app)
            // `https://host/tollgate/`, as a proxy's location is written, is the page too.
            .route(&format!("{base}/"), get(page_at_base))
            .fallback(errors::unknown_route)
            .layer(axum::middleware::from_fn(errors::as_json)),
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(error) = served {
        tracing::error!(%error, "the HTTP server stopped");
    }
}

/// `BASE/` leads to `BASE`, where the page is.
async fn page_at_base(uri: axum::http::Uri) -> axum::response::Redirect {
    axum::response::Redirect::permanent(uri.path().trim_end_matches('/'))
}

impl IntoResponse for ControllerError {
    fn into_response(self) -> Response {
        (self.status(), Json(ApiError { error: self.to_string() })).into_response()
    }
}

impl ControllerError {
    /// The HTTP status it is answered with, by the API and the pages alike; a system failure is
    /// logged, since it is the operator's to look at.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ControllerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControllerError::NotFound(_) => StatusCode::NOT_FOUND,
            ControllerError::Conflict(_) => StatusCode::CONFLICT,
            ControllerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ControllerError::System(message) => {
                tracing::error!(message, "a request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}
