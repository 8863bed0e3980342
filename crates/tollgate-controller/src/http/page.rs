//! `/`: a plain page of what `GET /api/status` says, for a browser. The dashboard is later.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use tollgate_api::{Status, WorkItemView};

use crate::controller::Controller;
use crate::error::ControllerError;

pub async fn status(
    State(controller): State<Arc<Controller>>,
) -> Result<Html<String>, ControllerError> {
    Ok(Html(render(&controller.status().await?, &controller.config.base_path)))
}

/// Links start with `base`, the path the service is served under.
fn render(status: &Status, base: &str) -> String {
    let mut page = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tollgate</title>\
         <meta http-equiv=\"refresh\" content=\"5\"></head><body><h1>tollgate</h1>",
    );
    let _ = write!(
        page,
        "<p>slots busy: {} of {} · <a href=\"{base}/api/status\">JSON</a></p>",
        status.slots_busy, status.slots
    );
    for branch in &status.branches {
        let tip = branch.tip.as_deref().map_or("?", |tip| &tip[..tip.len().min(12)]);
        let _ = write!(
            page,
            "<h2>{} {} @ {}</h2>",
            escape(&branch.project),
            escape(&branch.branch),
            tip
        );
        if !branch.queue.is_empty() {
            page.push_str("<h3>staged</h3><ul>");
            for change in &branch.queue {
                let _ = write!(
                    page,
                    "<li>{} {} {}</li>",
                    change.id,
                    &change.commit[..12],
                    escape(&change.subject)
                );
            }
            page.push_str("</ul>");
        }
        if let Some(current) = &branch.current {
            let _ = write!(
                page,
                "<h3>integration {} ({})</h3><table>",
                current.id,
                current.state.as_str()
            );
            for item in &current.work_items {
                row(&mut page, item, base);
            }
            page.push_str("</table>");
        }
        if !branch.recent.is_empty() {
            page.push_str("<h3>recent</h3><ul>");
            for integration in &branch.recent {
                let _ = write!(
                    page,
                    "<li><a href=\"{base}/api/integrations/{0}\">integration {0}</a>: {1}, {2}</li>",
                    integration.id,
                    integration.state.as_str(),
                    integration.outcome()
                );
            }
            page.push_str("</ul>");
        }
    }
    page.push_str("</body></html>");
    page
}

fn row(page: &mut String, item: &WorkItemView, base: &str) {
    let log = item
        .log
        .as_deref()
        .map_or(String::new(), |log| format!("<a href=\"{base}{}\">log</a>", escape(log)));
    let _ = write!(
        page,
        "<tr><td>{}</td><td>{}</td><td>{log}</td></tr>",
        escape(&item.id),
        item.state.as_str()
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
