//! `/events?before=SEQ&integration=ID`: the decision log, newest first, a page at a time. Its
//! twin is `/api/events`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;
use tollgate_api::{EventView, Page, routes};
use tollgate_state::Cursor;

use super::parts::{Links, badge, when};
use super::{Frame, PageResult, Section, bad_query};
use crate::controller::Controller;

/// Events a page shows.
const PAGE: i64 = 100;

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    before: Option<i64>,
    integration: Option<i64>,
}

pub(super) async fn page(
    State(controller): State<Arc<Controller>>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(bad_query)?;
    let cursor = query.before.map_or(Cursor::Newest, Cursor::Before);
    let events = controller.db.events(query.integration, cursor, PAGE).await?;
    let base = &controller.config.base_path;
    let mut twin = format!("{}?limit={PAGE}", routes::EVENTS);
    let mut scope = String::new();
    if let Some(id) = query.integration {
        scope = format!("&integration={id}");
    }
    twin.push_str(&scope);
    if let Some(before) = query.before {
        twin.push_str(&format!("&before={before}"));
    }
    let frame = Frame {
        base,
        title: "Decision log".to_owned(),
        section: Section::Events,
        twin,
        running: false,
        integration: query.integration,
    };
    let links = Links(base);
    Ok(frame.render(body(&events, query.integration, &scope, &links), None))
}

fn body(events: &Page<EventView>, integration: Option<i64>, scope: &str, links: &Links) -> Markup {
    html! {
        h1 { "Decision log" }
        p.sub {
            "What tollgate decided and did, newest first."
            @if let Some(id) = integration {
                " Only " a href=(links.integration(id)) { "integration #" (id) } "; "
                a href=(links.path("/events")) { "all events" } "."
            }
        }
        @if events.items.is_empty() {
            div.card.empty { "Nothing yet." }
        } @else {
            section.card { table.events {
                thead { tr { th.num { "#" } th { "When" } th { "What" } th { "Where" } th { "Detail" } } }
                tbody {
                    @for event in &events.items {
                        tr data-kind=(event.kind) {
                            td.num.muted { (event.seq) }
                            td { (when(event.at)) }
                            td {
                                strong { (event.kind.replace('_', " ")) }
                                @if let Some(state) = event.detail.get("state").and_then(|state| state.as_str()) {
                                    " " (badge(state))
                                }
                            }
                            td {
                                (event.project) " · " (event.branch)
                                @if let Some(id) = event.integration { " · " a href=(links.integration(id)) { "integration #" (id) } }
                                @if let Some(id) = event.change { " · " a href=(links.change(id)) { "change #" (id) } }
                                @if let (Some(item), Some(id)) = (&event.work_item, event.integration) {
                                    div { a href=(links.work_item(id, item)) { (item) } }
                                }
                            }
                            td.detail { (detail(&event.detail)) }
                        }
                    }
                }
            } }
        }
        @if let Some(next) = events.next {
            p.pager { a href={ (links.path("/events")) "?before=" (next) (scope) } { "Older events →" } }
        }
    }
}

/// An event's own fields as `name: value` pairs; nested values as compact JSON.
fn detail(value: &serde_json::Value) -> Markup {
    let Some(fields) = value.as_object() else { return html! { (value.to_string()) } };
    html! {
        @for (name, value) in fields.iter().filter(|(name, value)| !value.is_null() && *name != "state") {
            @let text = match value { serde_json::Value::String(text) => text.clone(), other => other.to_string() };
            span.nowrap { span.muted { (name) ": " } } (shorten(&text)) " "
        }
    }
}

fn shorten(text: &str) -> String {
    match text.chars().count() > 160 {
        true => format!("{}…", text.chars().take(160).collect::<String>()),
        false => text.to_owned(),
    }
}
