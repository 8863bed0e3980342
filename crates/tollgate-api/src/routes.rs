//! The API's paths, in one place for the service's router and the CLI's client.
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | GET | `/api/status` | → [`Status`](crate::Status) |
//! | GET, POST | `/api/projects` | [`ProjectSpec`](crate::ProjectSpec) → [`ProjectView`](crate::ProjectView) |
//! | POST | `/api/stage` | [`StageRequest`](crate::StageRequest) → [`StageResponse`](crate::StageResponse) |
//! | POST | `/api/unstage` | [`UnstageRequest`](crate::UnstageRequest) → [`ChangeView`](crate::ChangeView) |
//! | GET | `/api/changes/{id}` | → [`ChangeView`](crate::ChangeView) |
//! | GET | `/api/integrations?project=&branch=&before=ID&limit=` | → [`Page`](crate::Page) of [`IntegrationView`](crate::IntegrationView)s without work items, newest first; `branch` needs `project` |
//! | GET | `/api/integrations/{id}` | → [`IntegrationView`](crate::IntegrationView) |
//! | POST | `/api/integrations/{id}/cancel` | → [`IntegrationView`](crate::IntegrationView) |
//! | GET | `/api/log?item=WORK_ITEM&integration=ID&follow=true` | → the log, `text/plain`; the newest integration with that work item when `integration` is left out; streamed while it grows with `follow` |
//! | GET | `/api/events?before=SEQ&integration=ID&limit=` | → [`Page`](crate::Page) of [`EventView`](crate::EventView)s, the decision log, newest first; with `after=SEQ` instead of `before`, what came after SEQ, oldest first (to follow it) |
//! | GET, POST | `/api/tokens` | [`NewToken`](crate::NewToken) → [`TokenCreated`](crate::TokenCreated), the secret shown once; GET → [`TokenView`](crate::TokenView)s |
//! | POST | `/api/tokens/{name}/revoke` | → [`TokenView`](crate::TokenView) |
//!
//! A list's `limit` is 50 when left out, and at most [`MAX_PAGE`](crate::MAX_PAGE).
//!
//! Once the service has a token, a request sends one as `Authorization: Bearer SECRET`, with
//! a [`Role`](crate::Role) that allows the route: `stage` for staging, unstaging and
//! cancelling; `admin` for projects, tokens (listing them too) and agents; `agent` for the
//! agents' protocol under `/api/agent/`; reads need `read` only where the service's
//! configuration says so. No token where one is needed, or an unknown or revoked one on any
//! route, is 401; a role that does not allow the route is 403.

pub const STATUS: &str = "/api/status";
pub const PROJECTS: &str = "/api/projects";
pub const STAGE: &str = "/api/stage";
pub const UNSTAGE: &str = "/api/unstage";
pub const EVENTS: &str = "/api/events";
pub const INTEGRATIONS: &str = "/api/integrations";
pub const LOG: &str = "/api/log";
pub const TOKENS: &str = "/api/tokens";

pub fn change(id: i64) -> String {
    format!("/api/changes/{id}")
}

pub fn integration(id: i64) -> String {
    format!("/api/integrations/{id}")
}

pub fn cancel(id: i64) -> String {
    format!("/api/integrations/{id}/cancel")
}

pub fn revoke_token(name: &str) -> String {
    format!("/api/tokens/{name}/revoke")
}
