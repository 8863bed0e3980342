//! `/agents`: the machines that run work items, as Coin's agent pool page shows them. Its twin
//! is `/api/agents`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use maud::{Markup, html};
use tollgate_api::{AgentView, routes};

use super::parts::{Links, badge, now, took, when};
use super::{Frame, PageResult, Section};
use crate::controller::Controller;

pub(super) async fn page(State(controller): State<Arc<Controller>>) -> PageResult {
    let Json(agents) = crate::http::agent::agents(State(controller.clone())).await?;
    let (busy, slots) = controller.pool.load(crate::agents::LOCAL).unwrap_or((0, 0));
    let base = &controller.config.base_path;
    let frame = Frame {
        base,
        title: "Agents".to_owned(),
        section: Section::Agents,
        twin: routes::AGENTS.to_owned(),
        running: agents.iter().any(|agent| agent.slots_busy > 0),
        integration: None,
    };
    Ok(frame.render(body(&agents, (busy, slots), &Links(base)), None))
}

fn body(agents: &[AgentView], (busy, slots): (u32, u32), links: &Links) -> Markup {
    let now = now();
    html! {
        h1 { "Agents" }
        p.sub {
            @if slots > 0 { "This machine runs work items too: " (busy) " of " (slots) " slots busy. " }
            "Agents register with " code { "tollgate agent --server URL --token-file FILE --template T" } "."
        }
        @if agents.is_empty() {
            div.card.empty { "No agent has registered." }
        } @else {
            section.card { table.agents {
                thead { tr {
                    th { "Agent" } th { "State" } th { "Machine" } th.num { "Slots" }
                    th { "Templates" } th { "Running" } th { "Last seen" }
                } }
                tbody {
                    @for agent in agents {
                        @let info = &agent.info;
                        tr data-agent=(info.name) {
                            td {
                                strong { (info.name) }
                                @if !info.version.is_empty() { div.muted { "tollgate " (info.version) } }
                            }
                            td { (badge(&agent.state)) }
                            td.muted {
                                (info.os) " " (info.arch)
                                @if !info.distribution.is_empty() { " · " (info.distribution) }
                                div { (info.cores) " cores · " (info.memory_bytes >> 30) " GiB" }
                            }
                            td.num { (agent.slots_busy) " / " (info.slots) }
                            td.detail { @for template in &info.templates { div { (template) } } }
                            td {
                                @for running in &agent.running {
                                    @let (integration, item) = running.split_once('/').unwrap_or(("", running));
                                    @match integration.parse::<i64>() {
                                        Ok(id) => div { a href=(links.work_item(id, item)) { (item) } " " span.muted { "#" (id) } },
                                        Err(_) => div { (running) },
                                    }
                                }
                            }
                            td.muted { (when(agent.last_seen)) div { (took(now - agent.last_seen)) " ago" } }
                        }
                    }
                }
            } }
        }
    }
}
