//! The web pages: HTML rendered here from the same views the JSON API answers with, readable
//! without JavaScript. Each page's JSON twin is its path under `/api` (`routes::page_of`),
//! linked from the page. `assets/live.js` swaps a page's `#live` part for a fresh rendering
//! when the decision log moves, and follows a work item's log.
//!
//! One file per page; `parts.rs` holds what several pages show (states, commits, times, the
//! reason for a rejection).

mod agents;
mod branch;
mod change;
mod events;
mod integration;
mod overview;
mod parts;
mod tests;
mod timeline;
mod work_item;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};

use crate::controller::Controller;
use crate::error::ControllerError;

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/live.js");

/// The pages' routes, beside the API's.
pub(crate) fn routes() -> Router<Arc<Controller>> {
    Router::new()
        .route("/", get(overview::page))
        .route("/branch", get(branch::page))
        .route("/integrations/{id}", get(integration::page))
        .route("/work-item", get(work_item::page))
        .route("/changes/{id}", get(change::page))
        .route("/agents", get(agents::page))
        .route("/events", get(events::page))
        .route("/tests", get(tests::page))
        .route("/assets/style.css", get(|| asset(STYLE, "text/css; charset=utf-8")))
        .route("/assets/live.js", get(|| asset(SCRIPT, "text/javascript; charset=utf-8")))
}

async fn asset(text: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=300")], text).into_response()
}

/// A page's answer: the page, or a page that says what went wrong.
type PageResult = Result<Html<String>, PageError>;

/// What a page is made of besides its body.
struct Frame<'a> {
    /// The service's base path: every link starts with it.
    base: &'a str,
    title: String,
    /// Which part of the navigation it belongs to.
    section: Section,
    /// Its JSON twin, an API path.
    twin: String,
    /// Something on it runs: without JavaScript it refreshes itself.
    running: bool,
    /// The integration it is about: the live part follows only its events.
    integration: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Overview,
    Agents,
    Events,
}

impl Frame<'_> {
    /// The whole page: the bar, the title, the twin's link, and `body` as the live part;
    /// `after` comes below it and is not swapped (a followed log).
    fn render(&self, body: Markup, after: Option<Markup>) -> Html<String> {
        let base = self.base;
        let nav = |section: Section, path: &str, name: &str| {
            html! { a.here[self.section == section] href={ (base) (path) } { (name) } }
        };
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) " · tollgate" }
                    link rel="stylesheet" href={ (base) "/assets/style.css" };
                    link rel="alternate" type="application/json" href={ (base) (self.twin) };
                    @if self.running {
                        noscript { meta http-equiv="refresh" content="10"; }
                    }
                }
                body data-base=(base) {
                    header.bar {
                        a.brand href={ (base) "/" } { "tollgate" }
                        nav {
                            (nav(Section::Overview, "/", "Overview"))
                            (nav(Section::Agents, "/agents", "Agents"))
                            (nav(Section::Events, "/events", "Decision log"))
                        }
                        span.live { "static" }
                    }
                    main {
                        a.twin href={ (base) (self.twin) } title="The same data as JSON" { "JSON" }
                        div #live data-running=[self.running.then_some("1")]
                            data-integration=[self.integration] { (body) }
                        @if let Some(after) = after { (after) }
                    }
                    script src={ (base) "/assets/live.js" } defer {}
                }
            }
        };
        Html(page.into_string())
    }
}

/// A page that could not be rendered, as a page.
struct PageError(ControllerError);

impl From<ControllerError> for PageError {
    fn from(error: ControllerError) -> PageError {
        PageError(error)
    }
}

impl From<tollgate_state::StateError> for PageError {
    fn from(error: tollgate_state::StateError) -> PageError {
        PageError(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { "tollgate: " (status.as_u16()) } }
                body style="font-family: system-ui, sans-serif; margin: 2em" {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                    p { (self.0.to_string()) }
                    p { a href="javascript:history.back()" { "Back" } }
                }
            }
        };
        (status, Html(page.into_string())).into_response()
    }
}

/// A query string a page cannot read, as a page.
fn bad_query(rejection: axum::extract::rejection::QueryRejection) -> PageError {
    PageError(ControllerError::BadRequest(rejection.body_text()))
}
