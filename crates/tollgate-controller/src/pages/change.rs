//! `/changes/{id}`: a change's verdict and why. Its twin is `/api/changes/{id}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use maud::{Markup, html};
use tollgate_api::{ChangeState, ChangeView, routes};

use super::parts::{Links, badge, rejection, sha, when};
use super::{Frame, PageResult, Section};
use crate::controller::Controller;
use crate::error::ControllerError;

pub(super) async fn page(
    State(controller): State<Arc<Controller>>,
    Path(id): Path<i64>,
) -> PageResult {
    let missing = || ControllerError::NotFound(format!("no change {id}"));
    let change = controller.db.change(id).await?.ok_or_else(missing)?;
    let base = &controller.config.base_path;
    let frame = Frame {
        base,
        title: format!("Change {id}"),
        section: Section::Overview,
        twin: routes::change(id),
        running: !change.state.is_final(),
        integration: None,
    };
    Ok(frame.render(body(&change, &Links(base)), None))
}

fn body(change: &ChangeView, links: &Links) -> Markup {
    html! {
        div.crumbs {
            a href=(links.path("/")) { "Overview" } " / "
            a href=(links.branch(&change.project, &change.branch)) { (change.project) " · " (change.branch) }
        }
        h1 { "Change #" (change.id) " " span #verdict { (badge(change.state.as_str())) } }
        p.sub { (change.subject) }
        (verdict(change, links))
        section.card {
            dl.kv {
                dt { "Commit" } dd { code { (change.commit) } }
                dt { "Author" } dd { (change.author) }
                dt { "Branch" } dd { a href=(links.branch(&change.project, &change.branch)) { (change.project) " · " (change.branch) } }
                dt { "Staged" } dd { (when(change.staged_at)) " from " (change.origin) }
                @if let Some(integration) = change.integration {
                    dt { "Integration" } dd { a href=(links.integration(integration)) { "#" (integration) } }
                }
            }
        }
    }
}

/// What became of it, in a sentence, and why when it was rejected.
fn verdict(change: &ChangeView, links: &Links) -> Markup {
    let integration = |id: Option<i64>| {
        html! {
            @if let Some(id) = id { " in " a href=(links.integration(id)) { "integration #" (id) } }
        }
    };
    html! {
        @match change.state {
            ChangeState::Merged => div.banner.ok { "Merged" (integration(change.integration)) ": the branch has " (sha(&change.commit)) "." },
            ChangeState::Rejected => {
                div.banner.bad { "Rejected" (integration(change.integration)) "." }
                @if let Some(why) = &change.rejection { (rejection(links, why, Some(change.id))) }
            },
            ChangeState::Integrating => div.banner.warn { "Being integrated" (integration(change.integration)) "." },
            ChangeState::Staged => div.banner.warn { "Staged: it waits for the next integration of its branch." },
            ChangeState::Unstaged => div.banner.warn { "Unstaged: taken back before it was merged." },
        }
    }
}
