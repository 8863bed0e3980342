//! The token routes: list, add (the secret answered once), revoke.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use tollgate_api::{NewToken, TokenCreated, TokenView};

use super::api::Answer;
use super::auth::Caller;
use crate::controller::Controller;

pub async fn list(State(controller): State<Arc<Controller>>) -> Answer<Vec<TokenView>> {
    Ok(Json(controller.tokens().await?))
}

pub async fn add(
    State(controller): State<Arc<Controller>>,
    caller: Option<Extension<Caller>>,
    Json(new): Json<NewToken>,
) -> Answer<TokenCreated> {
    let created = controller.add_token(&new).await?;
    tracing::info!(token = created.name, role = %created.role, by = by(&caller), "token added");
    Ok(Json(created))
}

pub async fn revoke(
    State(controller): State<Arc<Controller>>,
    caller: Option<Extension<Caller>>,
    Path(name): Path<String>,
) -> Answer<TokenView> {
    let revoked = controller.revoke_token(&name).await?;
    tracing::info!(token = name, by = by(&caller), "token revoked");
    Ok(Json(revoked))
}

/// Who did it, for the log: a token's name and role, or nobody while the API needs none.
fn by(caller: &Option<Extension<Caller>>) -> String {
    match caller {
        Some(Extension(caller)) => format!("{} ({})", caller.name, caller.role),
        None => "no token".to_owned(),
    }
}
