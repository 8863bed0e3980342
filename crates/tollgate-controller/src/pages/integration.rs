//! `/integrations/{id}`: an integration's changes, why it was rejected, its phases drawn as a
//! timeline, and its work items. Its twin is `/api/integrations/{id}`; the timeline's marks
//! come from its events (`/api/events?integration=ID`).

use std::sync::Arc;

use axum::extract::{Path, State};
use maud::{Markup, html};
use tollgate_api::{EventView, IntegrationView, MAX_PAGE, MergeResult, routes};
use tollgate_state::Cursor;

use super::parts::{Links, badge, count, now, progress, rejection, sha, took, when, work_items};
use super::timeline::timeline;
use super::{Frame, PageResult, Section};
use crate::controller::Controller;
use crate::error::ControllerError;

pub(super) async fn page(
    State(controller): State<Arc<Controller>>,
    Path(id): Path<i64>,
) -> PageResult {
    let missing = || ControllerError::NotFound(format!("no integration {id}"));
    let mut view = controller.db.integration_view(id, true).await?.ok_or_else(missing)?;
    controller.show_waiting(&mut view);
    // Newest first; an integration has a few events per work item.
    let mut events = controller.db.events(Some(id), Cursor::Newest, MAX_PAGE).await?.items;
    events.reverse();
    let base = &controller.config.base_path;
    let frame = Frame {
        base,
        title: format!("Integration {id}"),
        section: Section::Overview,
        twin: routes::integration(id),
        running: !view.state.is_final(),
        integration: Some(id),
    };
    Ok(frame.render(body(&view, &events, &Links(base)), None))
}

fn body(view: &IntegrationView, events: &[EventView], links: &Links) -> Markup {
    let now = now();
    html! {
        div.crumbs {
            a href=(links.path("/")) { "Overview" } " / "
            a href=(links.branch(&view.project, &view.branch)) { (view.project) " · " (view.branch) }
        }
        h1 { "Integration #" (view.id) " " (badge(view.state.as_str())) }
        p.sub {
            (view.outcome()) " on " (view.branch) " at " (sha(&view.base))
            @if let Some(commit) = &view.commit { " → " (sha(commit)) }
            " · formed " (when(view.created_at))
            @match view.finished_at {
                Some(end) => { " · took " (took(end - view.created_at)) }
                None => { " · running for " (took(now - view.created_at)) " " (progress(&view.work_items)) }
            }
        }
        @if let Some(note) = &view.note { div.banner.warn { (note) } }
        @if let Some(why) = &view.rejection { (rejection(links, why, None)) }
        section.card {
            h2 { "Changes" }
            table {
                thead { tr { th { "Change" } th { "Commit" } th { "Subject" } th { "Merge" } } }
                tbody {
                    @for change in &view.changes {
                        tr {
                            td { a href=(links.change(change.change)) { "#" (change.change) } }
                            td { (sha(&change.commit)) }
                            td { (change.subject) }
                            td.muted {
                                @match change.merge {
                                    Some(MergeResult::FastForward) => "fast-forward",
                                    Some(MergeResult::Merged) => "merged onto the tip",
                                    Some(MergeResult::Conflict) => { span style="color:var(--failed)" { "conflict: rejected on its own" } }
                                    None => "",
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Timeline" }
            (timeline(view, events, now))
        }
        section.card {
            h2 { (count(view.work_items.len(), "work item", "work items")) }
            @if view.work_items.is_empty() {
                p.empty { "Not planned yet." }
            } @else {
                (work_items(links, view.id, &view.work_items, now))
            }
        }
        p.muted {
            "Its decision log: "
            a href={ (links.path("/events")) "?integration=" (view.id) } { "events" }
            " (" a href={ (links.path(routes::EVENTS)) "?integration=" (view.id) } { "JSON" } ")"
        }
    }
}
