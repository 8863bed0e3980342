//! `/`: every gated branch with its tip, queue, running integration and recent verdicts; the
//! slots and agents; what needs a look. Its twin is `/api/status`.

use std::sync::Arc;

use axum::extract::State;
use maud::{Markup, html};
use tollgate_api::{BranchView, Status, routes};

use super::parts::{Links, badge, count, integration_line, now, progress, sha, work_items};
use super::{Frame, PageResult, Section};
use crate::controller::Controller;

pub(super) async fn page(State(controller): State<Arc<Controller>>) -> PageResult {
    let status = controller.status().await?;
    let base = &controller.config.base_path;
    let running = status.branches.iter().any(|branch| branch.current.is_some());
    let frame = Frame {
        base,
        title: "Overview".to_owned(),
        section: Section::Overview,
        twin: routes::STATUS.to_owned(),
        running,
        integration: None,
    };
    Ok(frame.render(body(&status, &Links(base)), None))
}

fn body(status: &Status, links: &Links) -> Markup {
    let staged: usize = status.branches.iter().map(|branch| branch.queue.len()).sum();
    let agents = status.agents;
    html! {
        h1 { "Overview" }
        (health(status))
        div.grid {
            div.stat { div.n { (status.branches.len()) } div.l { "gated branches" } }
            div.stat { div.n { (staged) } div.l { "changes staged" } }
            div.stat #slots {
                div.n { (status.slots_busy) " / " (status.slots) }
                div.l { "slots busy" }
            }
            a.stat href=(links.path("/agents")) {
                div.n { (agents.busy + agents.idle + agents.draining) }
                div.l {
                    "agents: " (agents.busy) " busy · " (agents.idle) " idle"
                    @if agents.draining > 0 { " · " (agents.draining) " draining" }
                    @if agents.lost > 0 { " · " span style="color:var(--failed)" { (agents.lost) " lost" } }
                }
            }
        }
        @if status.branches.is_empty() {
            div.card.empty {
                "No branch is gated yet. Add a project: "
                code { "tollgate project add NAME URL --branch BRANCH" }
            }
        }
        @for branch in &status.branches { (branch_card(branch, links)) }
    }
}

/// What needs a look: stalled branches, branches the remote lost, fetches that fail.
fn health(status: &Status) -> Markup {
    let missing: Vec<&BranchView> = status.branches.iter().filter(|b| b.missing).collect();
    let failing: Vec<_> = status.projects.iter().filter(|p| p.fetch_error.is_some()).collect();
    let fine = status.warnings.is_empty() && missing.is_empty() && failing.is_empty();
    html! {
        @if fine {
            div.banner.ok #health { "Healthy: every branch is gated and no queue is stalled." }
        }
        @for warning in &status.warnings {
            div.banner.warn.health { strong { (warning.project) " " (warning.branch) ": " } (warning.message) }
        }
        @for branch in missing {
            div.banner.bad.health {
                strong { (branch.project) " " (branch.branch) ": " }
                "the remote has no such branch; nothing merges there until it is back."
            }
        }
        @for project in failing {
            div.banner.bad.health {
                strong { (project.spec.name) ": " }
                "the last fetch failed: " (project.fetch_error.as_deref().unwrap_or(""))
            }
        }
    }
}

fn branch_card(branch: &BranchView, links: &Links) -> Markup {
    html! {
        section.card.branch data-project=(branch.project) data-branch=(branch.branch) {
            div.branch-head {
                a.name href=(links.branch(&branch.project, &branch.branch)) {
                    (branch.project) " · " (branch.branch)
                }
                span.muted {
                    "tip " @match &branch.tip { Some(tip) => (sha(tip)), None => "not fetched" }
                }
                span.muted { (count(branch.queue.len(), "change", "changes")) " staged" }
                span.verdicts {
                    @for integration in &branch.recent {
                        a href=(links.integration(integration.id))
                            title={ "integration " (integration.id) ": " (integration.outcome()) } {
                            (badge(integration.state.as_str()))
                        }
                    }
                }
            }
            @if let Some(current) = &branch.current {
                h3 {
                    a href=(links.integration(current.id)) { "Integration #" (current.id) }
                    " " (badge(current.state.as_str())) " "
                    span.muted { (count(current.changes.len(), "change", "changes")) }
                    " " (progress(&current.work_items))
                }
                (work_items(links, current.id, &current.work_items, now()))
            }
            @if !branch.queue.is_empty() {
                h3 { "Staged" }
                ul {
                    @for change in &branch.queue {
                        li {
                            a href=(links.change(change.id)) { "#" (change.id) } " " (sha(&change.commit))
                            " " (change.subject) " " span.muted { "by " (change.author) }
                        }
                    }
                }
            }
            @if let Some(last) = branch.recent.first() {
                p.muted.last-verdict { "Last verdict: " (integration_line(links, last)) }
            }
        }
    }
}
