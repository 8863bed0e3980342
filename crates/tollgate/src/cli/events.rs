//! `tollgate events`: the decision log, what the service decided and did, one line per event.

use std::fmt::Write;
use std::process::ExitCode;

use tollgate_api::{EventView, Page, routes};

use super::client::{self, ServerArgs};
use super::text::time;

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Only the events after this one, by its number (the first column).
    #[arg(long, value_name = "SEQ")]
    pub after: Option<i64>,
    /// Only the events of this integration.
    #[arg(long, value_name = "ID")]
    pub integration: Option<i64>,
    /// Prints the service's answer as JSON, as it came.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(args: &EventsArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        let mut query = Vec::new();
        query.extend(args.after.map(|seq| ("after", seq.to_string())));
        query.extend(args.integration.map(|id| ("integration", id.to_string())));
        if args.json {
            client::print_json(&client.get_raw(routes::EVENTS, &query).await?)?;
        } else {
            let page: Page<EventView> = client.get(routes::EVENTS, &query).await?;
            client::print(&page.items.iter().map(render_event).collect::<String>())?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `41 2026-08-01T12:00:00Z work_item_finished demo/greeter dev integration 3
/// demo/greeter:debian-12:Build outcome=passed`, on one line.
pub fn render_event(event: &EventView) -> String {
    let mut line = format!(
        "{} {} {} {} {}",
        event.seq,
        time(event.at),
        event.kind,
        event.project,
        event.branch
    );
    if let Some(integration) = event.integration {
        let _ = write!(line, " integration {integration}");
    }
    if let Some(change) = event.change {
        let _ = write!(line, " change {change}");
    }
    if let Some(work_item) = &event.work_item {
        let _ = write!(line, " {work_item}");
    }
    let detail = detail(&event.detail);
    if !detail.is_empty() {
        let _ = write!(line, " {detail}");
    }
    line.push('\n');
    line
}

/// `key=value` pairs: strings bare, anything else as compact JSON; nothing for `null`.
fn detail(detail: &serde_json::Value) -> String {
    use serde_json::Value;
    match detail {
        Value::Null => String::new(),
        Value::Object(fields) => {
            let mut pairs: Vec<String> = fields
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| match value {
                    Value::String(text)
                        if !text.is_empty() && !text.contains(char::is_whitespace) =>
                    {
                        format!("{key}={text}")
                    }
                    other => format!("{key}={other}"),
                })
                .collect();
            // By key, whatever order the map keeps: the same event reads the same each time.
            pairs.sort();
            pairs.join(" ")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: &str, detail: serde_json::Value) -> EventView {
        EventView {
            seq: 41,
            at: 1_785_585_600_000,
            kind: kind.into(),
            project: "demo/greeter".into(),
            branch: "dev".into(),
            integration: Some(3),
            change: None,
            work_item: Some("demo/greeter:debian-12:Build".into()),
            detail,
        }
    }

    #[test]
    fn an_event_is_one_line_with_its_detail() {
        let finished = event(
            "work_item_finished",
            json!({"outcome": "failed", "attempt": 1, "message": "exited with code 2"}),
        );
        assert_eq!(
            render_event(&finished),
            "41 2026-08-01T12:00:00Z work_item_finished demo/greeter dev integration 3 \
             demo/greeter:debian-12:Build attempt=1 message=\"exited with code 2\" outcome=failed\n"
        );
    }

    #[test]
    fn an_event_without_detail_or_work_item_is_shorter() {
        let mut staged = event("staged", serde_json::Value::Null);
        staged.integration = None;
        staged.change = Some(12);
        staged.work_item = None;
        assert_eq!(
            render_event(&staged),
            "41 2026-08-01T12:00:00Z staged demo/greeter dev change 12\n"
        );
    }
}
