//! `/branch?project=&branch=`: a branch's queue, its running integration, and its history a
//! page at a time, with how long each merged change waited. Its twin is `/api/branch`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;
use tollgate_api::{BranchDetail, IntegrationState, IntegrationView, routes};

use super::parts::{
    Links, badge, count, integration_line, now, progress, sha, took, when, work_items,
};
use super::{Frame, PageResult, Section, bad_query};
use crate::controller::Controller;

/// Integrations a page of the history shows.
const HISTORY: i64 = 25;

#[derive(Deserialize)]
pub(super) struct BranchQuery {
    project: String,
    branch: String,
    before: Option<i64>,
}

pub(super) async fn page(
    State(controller): State<Arc<Controller>>,
    query: Result<Query<BranchQuery>, QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(bad_query)?;
    let detail =
        controller.branch_detail(&query.project, &query.branch, query.before, HISTORY).await?;
    let base = &controller.config.base_path;
    let mut twin = routes::branch(&query.project, &query.branch);
    if let Some(before) = query.before {
        twin.push_str(&format!("&before={before}&limit={HISTORY}"));
    }
    let frame = Frame {
        base,
        title: format!("{} {}", query.project, query.branch),
        section: Section::Overview,
        twin,
        running: detail.branch.current.is_some(),
        integration: None,
    };
    Ok(frame.render(body(&detail, &Links(base)), None))
}

fn body(detail: &BranchDetail, links: &Links) -> Markup {
    let branch = &detail.branch;
    let waits: Vec<i64> = detail.history.items.iter().filter_map(waited).collect();
    html! {
        div.crumbs { a href=(links.path("/")) { "Overview" } " / " (branch.project) }
        h1 { (branch.project) " · " (branch.branch) }
        p.sub {
            "tip " @match &branch.tip { Some(tip) => (sha(tip)), None => "not fetched" }
            " · " (count(branch.queue.len(), "change", "changes")) " staged"
            " · " a href=(links.tests(&branch.project)) { "tests that failed lately" }
            @if let Some(median) = median(&waits) {
                " · stage to merge: median " (took(median)) " over " (count(waits.len(), "integration", "integrations"))
            }
        }
        @if branch.missing {
            div.banner.bad { "The remote has no such branch; nothing merges here until it is back." }
        }
        @if let Some(current) = &branch.current {
            section.card {
                h2 {
                    a href=(links.integration(current.id)) { "Integration #" (current.id) }
                    " " (badge(current.state.as_str())) " " (progress(&current.work_items))
                }
                (work_items(links, current.id, &current.work_items, now()))
            }
        }
        section.card {
            h2 { "Queue" }
            @if branch.queue.is_empty() {
                p.empty { "Nothing staged." }
            } @else {
                table {
                    thead { tr { th { "Change" } th { "Commit" } th { "Subject" } th { "Author" } th { "Staged" } th.num { "Waiting" } } }
                    tbody {
                        @for change in &branch.queue {
                            tr {
                                td { a href=(links.change(change.id)) { "#" (change.id) } }
                                td { (sha(&change.commit)) }
                                td { (change.subject) }
                                td.muted { (change.author) }
                                td.muted { (when(change.staged_at)) }
                                td.num.muted { (took(now() - change.staged_at)) }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "History" }
            @if detail.history.items.is_empty() {
                p.empty { "No integration yet." }
            } @else {
                table.history {
                    thead { tr { th { "Integration" } th { "Changes" } th { "Formed" } th.num { "Took" } th.num { "Stage to merge" } } }
                    tbody {
                        @for integration in &detail.history.items {
                            tr {
                                td.nowrap { (integration_line(links, integration)) }
                                td {
                                    @for change in &integration.changes {
                                        div { a href=(links.change(change.change)) { "#" (change.change) } " " (change.subject) }
                                    }
                                }
                                td.muted { (when(integration.created_at)) }
                                td.num.muted {
                                    @if let Some(end) = integration.finished_at { (took(end - integration.created_at)) }
                                }
                                td.num.muted { @if let Some(wait) = waited(integration) { (took(wait)) } }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = detail.history.next {
                p.pager {
                    a href={ (links.branch(&branch.project, &branch.branch)) "&before=" (next) } { "Older integrations →" }
                }
            }
        }
    }
}

/// How long a merged integration's first-staged change waited from staging to the merge.
fn waited(integration: &IntegrationView) -> Option<i64> {
    if integration.state != IntegrationState::Merged {
        return None;
    }
    let staged = integration.changes.iter().filter_map(|change| change.staged_at).min()?;
    Some(integration.finished_at? - staged)
}

fn median(values: &[i64]) -> Option<i64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied()
}
