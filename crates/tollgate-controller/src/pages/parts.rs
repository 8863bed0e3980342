//! What several pages show: states, commits, times, links, and the reason for a rejection.

use maud::{Markup, html};
use tollgate_api::{FailureView, IntegrationView, Rejection, WorkItemState, WorkItemView, routes};

/// A state as a coloured badge; its CSS class is the state's name.
pub(super) fn badge(state: &str) -> Markup {
    html! { span.badge.(state) { (state) } }
}

/// A commit as its first 10 digits, the whole id on hover.
pub(super) fn sha(commit: &str) -> Markup {
    html! { code title=(commit) { (&commit[..commit.len().min(10)]) } }
}

/// A moment, in UTC to the second, machine-readable too.
pub(super) fn when(ms: i64) -> Markup {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    let iso = humantime::format_rfc3339_seconds(at).to_string();
    let shown = iso.replacen('T', " ", 1).replace('Z', " UTC");
    html! { time.nowrap datetime=(iso) { (shown) } }
}

/// A length of time, to the two largest units: `2 h 5 min`, `3 min 4 s`, `12 s`, `340 ms`.
pub(super) fn took(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    match s {
        0 => format!("{ms} ms"),
        1..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// How long a work item ran, or has run so far.
pub(super) fn item_took(item: &WorkItemView, now: i64) -> String {
    match (item.started_at, item.finished_at) {
        (Some(start), Some(end)) => took(end - start),
        (Some(start), None) => format!("{} so far", took(now - start)),
        _ => String::new(),
    }
}

/// `1 change`, `2 changes`.
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Links to the pages, each under the base path.
pub(super) struct Links<'a>(pub &'a str);

impl Links<'_> {
    pub fn integration(&self, id: i64) -> String {
        format!("{}/integrations/{id}", self.0)
    }

    pub fn change(&self, id: i64) -> String {
        format!("{}/changes/{id}", self.0)
    }

    pub fn branch(&self, project: &str, branch: &str) -> String {
        format!("{}{}", self.0, routes::page_of(&routes::branch(project, branch)))
    }

    pub fn work_item(&self, integration: i64, item: &str) -> String {
        format!("{}{}", self.0, routes::page_of(&routes::work_item(integration, item)))
    }

    pub fn tests(&self, project: &str) -> String {
        format!("{}{}", self.0, routes::page_of(&routes::tests(project)))
    }

    /// Any path of the service (a log, a page) under the base path.
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// A bar of an integration's work items by state: how far it is.
pub(super) fn progress(items: &[WorkItemView]) -> Markup {
    let total = items.len().max(1) as f64;
    let share = |states: &[WorkItemState]| {
        let n = items.iter().filter(|item| states.contains(&item.state)).count();
        n as f64 * 100.0 / total
    };
    let parts = [
        ("passed", share(&[WorkItemState::Passed])),
        ("reused", share(&[WorkItemState::Reused])),
        ("failed", share(&[WorkItemState::Failed])),
        ("error", share(&[WorkItemState::Error])),
        ("skipped", share(&[WorkItemState::Skipped, WorkItemState::Cancelled])),
        ("running", share(&[WorkItemState::Running])),
    ];
    let ended = items.iter().filter(|item| item.state.is_final()).count();
    html! {
        span.progress title={ (ended) " of " (items.len()) " work items ended" } {
            @for (class, width) in parts {
                @if width > 0.0 { span.(class) style={ "width:" (format!("{width:.1}")) "%" } {} }
            }
        }
    }
}

/// The work items of an integration as a table, each linked to its page.
pub(super) fn work_items(
    links: &Links,
    integration: i64,
    items: &[WorkItemView],
    now: i64,
) -> Markup {
    html! {
        table.items {
            thead { tr { th { "Work item" } th { "State" } th { "Agent" } th.num { "Time" } th { "Why" } } }
            tbody {
                @for item in items {
                    tr data-item=(item.id) {
                        td {
                            a href=(links.work_item(integration, &item.id)) { (item.id) }
                            @if !item.significant { " " span.muted title="its failure does not reject" { "(insignificant)" } }
                        }
                        td.state {
                            (badge(item.state.as_str()))
                            @if !item.quarantined.is_empty() { " " (badge("quarantined")) }
                        }
                        td.muted { (item.agent.as_deref().unwrap_or("")) }
                        td.num.muted { (item_took(item, now)) }
                        td {
                            @if let Some(failure) = &item.failure {
                                span.where { (failure.instruction) " " code { (failure.location) } } ": " (failure.message)
                            } @else if let Some(waiting) = &item.waiting {
                                span.muted { (waiting) }
                            } @else if item.attempts > 1 {
                                span.muted { (item.attempts) " attempts" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One failing instruction: where it is written, what it said, what the log shows.
pub(super) fn failure(links: &Links, failure: &FailureView) -> Markup {
    html! {
        div.why.failure {
            h3 { (failure.work_item) " failed" }
            div.where {
                (failure.instruction) " at " code.location { (failure.location) }
                " (" (failure.configuration) ")"
            }
            p { (failure.message) }
            @if let Some(message) = &failure.user_message { p.user { (message) } }
            @if !failure.excerpt.is_empty() {
                pre.excerpt { @for line in &failure.excerpt { (line) "\n" } }
            }
            @if !failure.tests.is_empty() {
                ul.tests {
                    @for test in &failure.tests {
                        li {
                            code { (test.name) } " failed"
                            @if let Some(why) = &test.message { ": " (why) }
                            @if let Some(history) = &test.history {
                                span.history { " — on " (failure.configuration) " it " (history.describe()) }
                            }
                        }
                    }
                }
            }
            @if let Some(log) = &failure.log {
                p { a href=(links.path(log)) { "The whole log" } }
            }
        }
    }
}

/// Why changes were rejected, the same words wherever it is shown. `own`: the change this is
/// shown for, so that its batch-mates are named as others.
pub(super) fn rejection(links: &Links, rejection: &Rejection, own: Option<i64>) -> Markup {
    match rejection {
        Rejection::Failed { failures, batch } => {
            let others: Vec<i64> = batch.iter().copied().filter(|id| Some(*id) != own).collect();
            html! {
                div.rejection {
                    @if batch.len() > 1 && !others.is_empty() {
                        p.banner.warn {
                            "Rejected as a batch: integrated together with "
                            @for (i, id) in others.iter().enumerate() {
                                @if i > 0 { ", " }
                                a href=(links.change(*id)) { "change " (id) }
                            }
                            "; which of them broke it is not known."
                        }
                    }
                    @for found in failures { (failure(links, found)) }
                }
            }
        }
        Rejection::Conflict { paths } => html! {
            div.why {
                h3 { "Conflict" }
                p { "It does not merge onto the branch tip and the changes before it in the batch." }
                @if !paths.is_empty() { ul { @for path in paths { li { code { (path) } } } } }
            }
        },
        Rejection::Unrelated => html! {
            div.why { h3 { "Unrelated history" } p { "The change shares no history with the branch." } }
        },
        Rejection::Configuration { diagnostics } => html! {
            div.why {
                h3 { "The Coin configuration has errors" }
                pre.excerpt { @for line in diagnostics { (line) "\n" } }
            }
        },
    }
}

/// One line for an integration in a list: its number, its state, what became of its changes.
pub(super) fn integration_line(links: &Links, integration: &IntegrationView) -> Markup {
    html! {
        a href=(links.integration(integration.id)) { "#" (integration.id) }
        " " (badge(integration.state.as_str())) " "
        span.muted { (integration.outcome()) }
    }
}

/// The time it is now, in milliseconds.
pub(super) fn now() -> i64 {
    tollgate_state::now_ms()
}
