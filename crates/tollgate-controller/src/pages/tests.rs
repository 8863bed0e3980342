//! `/tests?project=P&days=N`: a project's tests that failed lately, per platform
//! configuration, with their flakes and failure rate, and the quarantine in force. Its twin is
//! `/api/tests`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use maud::{Markup, html};
use tollgate_api::{QuarantineView, TestHistory, routes};

use super::parts::{Links, badge, when};
use super::{Frame, PageResult, Section, bad_query};
use crate::controller::Controller;
use crate::http::api::{TestsQuery, tests};
use crate::http::quarantine::{ListQuery, list};
use crate::quarantine::applies;

pub(super) async fn page(
    State(controller): State<Arc<Controller>>,
    query: Result<Query<TestsQuery>, QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(bad_query)?;
    let (project, days) = (query.project.clone(), query.days.unwrap_or(30).clamp(1, 3660));
    let axum::Json(history) = tests(State(controller.clone()), Query(query)).await?;
    let entries = ListQuery { project: Some(project.clone()), all: false };
    let axum::Json(quarantine) = list(State(controller.clone()), Query(entries)).await?;
    let base = &controller.config.base_path;
    let frame = Frame {
        base,
        title: format!("Tests of {project}"),
        section: Section::Overview,
        twin: format!("{}&days={days}", routes::tests(&project)),
        running: false,
        integration: None,
    };
    Ok(frame.render(body(&project, days, &history, &quarantine, &Links(base)), None))
}

fn body(
    project: &str,
    days: i64,
    history: &[TestHistory],
    quarantine: &[QuarantineView],
    links: &Links,
) -> Markup {
    let quarantined = |test: &TestHistory| {
        quarantine
            .iter()
            .any(|entry| entry.names(&test.test) && applies(entry, &test.configuration))
    };
    html! {
        div.crumbs { a href=(links.path("/")) { "Overview" } " / " (project) }
        h1 { "Tests of " (project) }
        p.sub { "The tests that failed in the last " (days) " days, most failures first, per platform configuration." }
        section.card #history {
            @if history.is_empty() {
                p.empty { "No test failed in the last " (days) " days." }
            } @else {
                table {
                    thead { tr {
                        th { "Test" } th { "Configuration" } th.num { "Runs" } th.num { "Failures" }
                        th.num { "Flakes" } th.num { "Rate" } th { "Last failed" }
                    } }
                    tbody {
                        @for test in history {
                            tr data-test=(test.test) {
                                td {
                                    code { (test.test) }
                                    @if quarantined(test) { " " (badge("quarantined")) }
                                }
                                td { (test.configuration) }
                                td.num { (test.runs) }
                                td.num { (test.failures) }
                                td.num { (test.flakes) }
                                td.num { (format!("{:.1}%", 100.0 * test.failure_rate)) }
                                td.muted { (when(test.last_failed)) }
                            }
                        }
                    }
                }
            }
        }
        section.card #quarantine {
            h2 { "Quarantine" }
            @if quarantine.is_empty() {
                p.empty { "No test is quarantined. An admin adds one with " code { "tollgate quarantine add PROJECT TEST --owner NAME --until DATE --reason TEXT" } "." }
            } @else {
                p.muted { "Their failures are reported and do not reject until the entry ends." }
                table {
                    thead { tr { th { "Entry" } th { "Test" } th { "Configurations" } th { "Owner" } th { "Until" } th { "Reason" } } }
                    tbody {
                        @for entry in quarantine {
                            tr data-entry=(entry.id) {
                                td { (entry.id) }
                                td { code { (entry.test) } }
                                td { @match &entry.configuration { Some(re) => code { (re) }, None => "every one" } }
                                td { (entry.owner) }
                                td { (when(entry.until)) }
                                td { (entry.reason) }
                            }
                        }
                    }
                }
            }
        }
    }
}
