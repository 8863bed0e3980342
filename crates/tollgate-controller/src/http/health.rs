//! What operators' tools poll: `/healthz` (the process answers), `/readyz` (it can gate: the
//! state answers and the branches are gated; stalled branches are warnings) and `/metrics`
//! (Prometheus). The two health routes need no token (`auth.rs`), so that a probe needs no
//! secret; `/metrics` is a read like the others.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tollgate_api::{AgentCounts, HealthWarning};

use crate::agents::LOCAL;
use crate::controller::Controller;
use crate::error::ControllerError;
use crate::metrics::{BranchGauges, Format, Gauges};
use crate::stall::BranchHealth;

pub(crate) const HEALTHZ: &str = "/healthz";
pub(crate) const READYZ: &str = "/readyz";
pub(crate) const METRICS: &str = "/metrics";

/// How long `/readyz` waits for the state before it says the state does not answer.
const STATE_WAIT: Duration = Duration::from_secs(5);

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

#[derive(Serialize)]
struct Ready {
    status: &'static str,
    /// Gated branches.
    branches: usize,
    warnings: Vec<HealthWarning>,
}

/// Not ready: why, under `error` as every error answer of the API.
#[derive(Serialize)]
struct Unready {
    status: &'static str,
    error: String,
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> impl IntoResponse {
    Json(Health { status: "ok" })
}

/// `GET /readyz`: 200 while the service can gate, with its stalled branches as warnings;
/// 503 with the reason when it starts, stops or its state does not answer.
pub async fn readyz(State(controller): State<Arc<Controller>>) -> Response {
    let unready = |error: String| {
        let body = Unready { status: "unavailable", error };
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    };
    if controller.shutdown.is_cancelled() {
        return unready("the service is stopping".into());
    }
    if !controller.is_started() {
        return unready("the service is starting: its branches are not gated yet".into());
    }
    let branches = match tokio::time::timeout(STATE_WAIT, controller.branch_health()).await {
        Err(_) => {
            let secs = STATE_WAIT.as_secs();
            return unready(format!("the state database did not answer within {secs} s"));
        }
        Ok(Err(error)) => return unready(format!("the state database: {error}")),
        Ok(Ok(branches)) => branches,
    };
    Json(ready(&branches)).into_response()
}

fn ready(branches: &[BranchHealth]) -> Ready {
    Ready { status: "ok", branches: branches.len(), warnings: warnings(branches) }
}

/// The stalled branches, as `/readyz` and the status list them.
pub(crate) fn warnings(branches: &[BranchHealth]) -> Vec<HealthWarning> {
    branches
        .iter()
        .filter_map(|health| {
            let stall = health.stall.as_ref()?;
            Some(HealthWarning {
                project: health.project.clone(),
                branch: health.branch.clone(),
                kind: "stalled".to_owned(),
                message: stall.message(),
                waited_seconds: stall.waited.as_secs(),
                limit_seconds: stall.limit.as_secs(),
            })
        })
        .collect()
}

/// `GET /metrics`: OpenMetrics when the scraper asks for it (Prometheus does), the older
/// text format otherwise.
pub async fn metrics(
    State(controller): State<Arc<Controller>>,
    headers: HeaderMap,
) -> Result<Response, ControllerError> {
    let branches = controller.branch_health().await?;
    let (slots_busy, slots) = controller.pool.total_load();
    let gauges = Gauges {
        branches: branches
            .into_iter()
            .map(|health| BranchGauges {
                stalled: health.stall.is_some(),
                project: health.project,
                branch: health.branch,
                staged: health.staged,
            })
            .collect(),
        agents: agents_by_state(&controller).await?,
        slots_busy,
        slots,
        store_bytes: controller.metrics.store_bytes(controller.store.root()),
    };
    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok());
    let format = Format::accepted(accept);
    let text = controller
        .metrics
        .encode(&gauges, format)
        .map_err(|error| ControllerError::System(format!("cannot write the metrics: {error}")))?;
    Ok(([(header::CONTENT_TYPE, format.content_type())], text).into_response())
}

/// The agents as the operator's page counts them, and this machine's slots as one more.
pub(crate) async fn agents_by_state(
    controller: &Arc<Controller>,
) -> Result<AgentCounts, ControllerError> {
    let mut counts = AgentCounts::default();
    let Json(agents) = super::agent::agents(State(controller.clone())).await?;
    for agent in &agents {
        counts.count(&agent.state);
    }
    if let Some((busy, _)) = controller.pool.load(LOCAL) {
        counts.count(if busy > 0 { "busy" } else { "idle" });
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stall::Stall;

    #[test]
    fn a_stalled_branch_is_a_warning_of_a_ready_service() {
        let stall = Stall {
            waited: Duration::from_secs(3700),
            limit: Duration::from_secs(3600),
            median: Some(Duration::from_secs(1200)),
        };
        let branch = |name: &str, stall| BranchHealth {
            project: "demo/app".into(),
            branch: name.into(),
            staged: 1,
            stall,
        };
        let ready = ready(&[branch("main", Some(stall)), branch("dev", None)]);
        let json = serde_json::to_value(&ready).unwrap();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["branches"], 2);
        let warnings = json["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1, "{json}");
        assert_eq!(warnings[0]["branch"], "main");
        assert_eq!(warnings[0]["kind"], "stalled");
        assert_eq!(warnings[0]["limit_seconds"], 3600);
        let message = warnings[0]["message"].as_str().unwrap();
        assert!(message.contains("no verdict for 62 min"), "{message}");
    }
}
