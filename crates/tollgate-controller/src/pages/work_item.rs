//! `/work-item?integration=ID&item=WORK_ITEM`: one work item: its state, why it failed, its
//! build key and archives, where a reused result came from, and its log, which follows as it
//! grows. Its twin is `/api/work-item`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;
use tollgate_api::{
    QuarantinedTest, TestOutcome, TestResult, WorkItemDetail, WorkItemState, routes,
};

use super::parts::{Links, badge, failure, item_took, now, when};
use super::{Frame, PageResult, Section, bad_query};
use crate::controller::Controller;
use crate::http::log::{LogTail, log_tail};

/// The most of a log the page shows; the rest is one link away.
const TAIL: u64 = 256 << 10;

#[derive(Deserialize)]
pub(super) struct WorkItemQuery {
    integration: i64,
    item: String,
}

pub(super) async fn page(
    State(controller): State<Arc<Controller>>,
    query: Result<Query<WorkItemQuery>, QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(bad_query)?;
    let detail = controller.work_item_detail(query.integration, &query.item).await?;
    let tail = log_tail(&controller, query.integration, &query.item, TAIL).await?;
    let base = &controller.config.base_path;
    let links = Links(base);
    let frame = Frame {
        base,
        title: format!("{} in integration {}", detail.item.id, detail.integration),
        section: Section::Overview,
        twin: routes::work_item(detail.integration, &detail.item.id),
        running: !detail.item.state.is_final(),
        integration: Some(detail.integration),
    };
    Ok(frame.render(body(&detail, &links), Some(log(&detail, tail.as_ref(), &links))))
}

fn body(detail: &WorkItemDetail, links: &Links) -> Markup {
    let item = &detail.item;
    html! {
        div.crumbs {
            a href=(links.path("/")) { "Overview" } " / "
            a href=(links.branch(&detail.project, &detail.branch)) { (detail.project) " · " (detail.branch) } " / "
            a href=(links.integration(detail.integration)) { "Integration #" (detail.integration) }
        }
        h1 { (item.id) " " span #state { (badge(item.state.as_str())) } }
        @if let Some(found) = &item.failure { (failure(links, found)) }
        @if let Some(waiting) = &item.waiting { div.banner.warn { (waiting) } }
        @if !item.quarantined.is_empty() { (quarantined(&item.quarantined)) }
        section.card {
            dl.kv {
                dt { "Integration" } dd { a href=(links.integration(detail.integration)) { "#" (detail.integration) } }
                dt { "Significant" }
                dd { @if item.significant { "yes: its failure rejects the changes" } @else { "no: its failure is reported, not gated on" } }
                dt { "Build key" } dd { code { (item.build_key) } }
                @if let Some(from) = detail.reused_from {
                    dt { "Reused from" }
                    dd { "the run in " a href=(links.work_item(from, &item.id)) { "integration #" (from) } "; nothing ran here" }
                }
                dt { "Runs" } dd { (item.attempts) }
                @if let Some(agent) = &item.agent { dt { "Agent" } dd { (agent) } }
                @if let Some(start) = item.started_at { dt { "Started" } dd { (when(start)) } }
                @if let Some(end) = item.finished_at { dt { "Ended" } dd { (when(end)) } }
                @if item.started_at.is_some() { dt { "Took" } dd { (item_took(item, now())) } }
                @if matches!(item.state, WorkItemState::Failed | WorkItemState::Passed) {
                    dt { "Reproduce" }
                    dd #reproduce { code { "tollgate reproduce " (item.id) " --integration " (detail.integration) } }
                }
            }
        }
        @if !detail.tests.is_empty() { (tests(&detail.tests, &item.quarantined)) }
        @if !detail.archives.is_empty() {
            section.card {
                h2 { "Archives" }
                table {
                    thead { tr { th { "Name" } th { "Digest" } th.num { "Size" } } }
                    tbody {
                        @for archive in &detail.archives {
                            tr {
                                td { (archive.name) }
                                td { code { (archive.digest) } }
                                td.num.muted { @if let Some(bytes) = archive.bytes { (size(bytes)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// It passed although these tests failed: each was quarantined, by whom, until when, why.
fn quarantined(tests: &[QuarantinedTest]) -> Markup {
    html! {
        div.banner.warn #quarantined {
            "Passed without its quarantined tests, which failed: "
            ul {
                @for test in tests {
                    li {
                        code { (test.name) } " (entry " (test.quarantine) ", " (test.owner)
                        ", until " (when(test.until)) "): " (test.reason)
                        @if let Some(why) = &test.message { span.muted { " — " (why) } }
                    }
                }
            }
        }
    }
}

/// The tests its results name: the failed and skipped ones listed, the passed ones counted
/// (and listed below them, up to a page's worth).
fn tests(tests: &[TestResult], quarantined: &[QuarantinedTest]) -> Markup {
    const LISTED: usize = 500;
    let count = |outcome| tests.iter().filter(|t| t.outcome == outcome).count();
    html! {
        section.card #tests {
            h2 { "Tests" }
            p.muted {
                (tests.len()) " tests: "
                span.failed { (count(TestOutcome::Failed)) " failed" } ", "
                (count(TestOutcome::Skipped)) " skipped, "
                (count(TestOutcome::Passed)) " passed"
            }
            table {
                thead { tr { th { "Test" } th { "Outcome" } th { "Why" } th.num { "Time" } } }
                tbody {
                    @for test in tests.iter().take(LISTED) {
                        tr data-outcome=(test.outcome.as_str()) {
                            td { code { (test.name) } }
                            td {
                                (badge(test.outcome.as_str()))
                                @if test.outcome == TestOutcome::Failed && quarantined.iter().any(|q| q.name == test.name) {
                                    " " (badge("quarantined"))
                                }
                            }
                            td.muted { @if let Some(why) = &test.message { (why) } }
                            td.num.muted { @if let Some(ms) = test.millis { (ms) " ms" } }
                        }
                    }
                }
            }
            @if tests.len() > LISTED {
                p.muted { "and " (tests.len() - LISTED) " more passed; the JSON twin lists them all." }
            }
        }
    }
}

/// The log as it is now; while the work item runs, the script streams what follows from
/// where this ends.
fn log(detail: &WorkItemDetail, tail: Option<&LogTail>, links: &Links) -> Markup {
    let item = &detail.item;
    let running = !item.state.is_final();
    let plain = links.path(&routes::log(detail.integration, &item.id));
    let stream = running.then(|| {
        let from = tail.map_or(0, |tail| tail.end);
        let path =
            routes::log(detail.integration, &item.id).replacen(routes::LOG, routes::LOG_STREAM, 1);
        links.path(&format!("{path}&from={from}"))
    });
    html! {
        section.card #log-card {
            h2 { "Log" }
            p.muted {
                span #log-state {
                    @if running { "follows as it is written" } @else { "the whole log" }
                }
                " · " a href=(plain) { "plain text" }
                @if let Some(tail) = tail {
                    @if tail.skipped > 0 { " · the first " (size(tail.skipped)) " are only in the plain text" }
                }
            }
            pre.log #log data-stream=[stream] {
                @if let Some(tail) = tail {
                    @if let Some(heading) = &tail.heading { span.sys { (heading) } }
                    (lines(&tail.text))
                } @else if !running {
                    "No log: nothing ran."
                }
            }
        }
    }
}

/// The log's lines, each marked by its stream (`sys`, `out`, `err`: the word after the time)
/// so that the errors stand out; `live.js` marks the lines it appends the same way.
fn lines(text: &str) -> Markup {
    html! {
        @for line in text.split_inclusive('\n') {
            @match line.split(' ').nth(1) {
                Some("err") => span.err { (line) },
                Some("sys") => span.sys { (line) },
                _ => (line),
            }
        }
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}
