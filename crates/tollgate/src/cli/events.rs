//! `tollgate events`: the decision log, what the service decided and did, one line per event.
//!
//! A page at a time, as the service answers: the newest events by default, older pages with
//! `--before`, and with `--follow` whatever comes next, asked for every half second. A page
//! is printed oldest first, so the newest event is the last line, as `tail` and `journalctl`
//! show a log.

use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;
use tollgate_api::{EventView, MAX_PAGE, Page, Rejection, routes};

use super::client::{self, Client, ServerArgs};
use super::rejection::render_rejection;
use super::text::time;

/// How often `--follow` asks for what came after the last event it printed.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);
/// `--limit` when left out.
const DEFAULT_LIMIT: i64 = 50;

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// How many events to print: the newest so many, or so many after `--after`.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT,
          value_parser = clap::value_parser!(i64).range(1..=MAX_PAGE))]
    pub limit: i64,
    /// The events before this one, by its number (the first column): the page before the one
    /// shown. When older events are left, stderr names the number to give.
    #[arg(long, value_name = "SEQ", conflicts_with_all = ["after", "follow"])]
    pub before: Option<i64>,
    /// The events after this one: where a script left off.
    #[arg(long, value_name = "SEQ")]
    pub after: Option<i64>,
    /// Prints the newest events, then each new one as it is logged, until Ctrl-C.
    #[arg(long, conflicts_with = "json")]
    pub follow: bool,
    /// Only the events of this integration.
    #[arg(long, value_name = "ID")]
    pub integration: Option<i64>,
    /// Prints the service's answer as JSON, as it came: a page of events, newest first (oldest
    /// first after `--after`), and the cursor of the next page.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(args: &EventsArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        tokio::select! {
            // Ctrl-C is how a follower ends; it is not a failure.
            signal = tokio::signal::ctrl_c() => signal.map(|()| ExitCode::SUCCESS).map_err(Into::into),
            printed = events(client, args) => printed,
        }
    })
}

async fn events(client: &Client, args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let cursor = match (args.before, args.after) {
        (Some(before), _) => Some(("before", before)),
        (None, Some(after)) => Some(("after", after)),
        (None, None) => None,
    };
    let first = query(args, cursor, args.limit);
    if args.json {
        client::print_json(&client.get_raw(routes::EVENTS, &first).await?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut page: Page<EventView> = client.get(routes::EVENTS, &first).await?;
    // A page back from a cursor comes newest first; a page after one, oldest first.
    if args.after.is_none() {
        page.items.reverse();
    }
    // A reader that stopped early (`| head`) has seen enough.
    if !client::print_more(&render_events(&page.items, |path| client.link(path)))? {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.follow {
        if let Some(hint) = hint(args, &page) {
            eprintln!("{hint}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut after = page.items.last().map_or(args.after.unwrap_or(0), |event| event.seq);
    loop {
        let next = query(args, Some(("after", after)), MAX_PAGE);
        let page: Page<EventView> = client.get(routes::EVENTS, &next).await?;
        if !client::print_more(&render_events(&page.items, |path| client.link(path)))? {
            return Ok(ExitCode::SUCCESS);
        }
        after = page.next.unwrap_or(after);
        // A full page: more is there already.
        if (page.items.len() as i64) < MAX_PAGE {
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    }
}

/// The events route's query: the cursor, the page's size, the integration.
fn query(
    args: &EventsArgs,
    cursor: Option<(&'static str, i64)>,
    limit: i64,
) -> Vec<(&'static str, String)> {
    let mut query: Vec<(&str, String)> =
        cursor.map(|(key, seq)| (key, seq.to_string())).into_iter().collect();
    query.push(("limit", limit.to_string()));
    query.extend(args.integration.map(|id| ("integration", id.to_string())));
    query
}

/// The command for the next page, when there is one: the older events behind a page back
/// from a cursor, the newer ones after a full page after one.
fn hint(args: &EventsArgs, page: &Page<EventView>) -> Option<String> {
    let (words, flag) = match args.after {
        None => ("older events", "--before"),
        Some(_) if (page.items.len() as i64) < args.limit => return None,
        Some(_) => ("newer events", "--after"),
    };
    let mut line = format!("{words}: tollgate events {flag} {}", page.next?);
    if let Some(integration) = args.integration {
        let _ = write!(line, " --integration {integration}");
    }
    if args.limit != DEFAULT_LIMIT {
        let _ = write!(line, " --limit {}", args.limit);
    }
    Some(line)
}

fn render_events(events: &[EventView], link: impl Fn(&str) -> String) -> String {
    events.iter().map(|event| render_event(event, &link)).collect()
}

/// `41 2026-08-01T12:00:00Z work_item_finished demo/greeter dev integration 3
/// demo/greeter:debian-12:Build outcome=passed`, on one line.
/// A rejection's reasons follow on lines of their own, indented; `link` makes a URL of an API
/// path.
pub fn render_event(event: &EventView, link: impl Fn(&str) -> String) -> String {
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
    let rejection = event.detail.get("rejection").and_then(|r| Rejection::deserialize(r).ok());
    let mut shown = event.detail.clone();
    if rejection.is_some()
        && let Some(fields) = shown.as_object_mut()
    {
        fields.remove("rejection");
    }
    let detail = detail(&shown);
    if !detail.is_empty() {
        let _ = write!(line, " {detail}");
    }
    line.push('\n');
    if let Some(rejection) = rejection {
        line.push_str(&render_rejection(&rejection, event.change, link));
    }
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

    fn args(before: Option<i64>, after: Option<i64>, limit: i64) -> EventsArgs {
        EventsArgs {
            limit,
            before,
            after,
            follow: false,
            integration: None,
            json: false,
            server: ServerArgs { server: "http://127.0.0.1:8080".into(), token_file: None },
        }
    }

    fn page(seqs: &[i64], next: Option<i64>) -> Page<EventView> {
        let items = seqs.iter().map(|&seq| EventView { seq, ..event("staged", json!({})) });
        Page { items: items.collect(), next }
    }

    #[test]
    fn the_hint_names_the_next_page_when_there_is_one() {
        let older = hint(&args(None, None, 50), &page(&[90, 91], Some(90)));
        assert_eq!(older.as_deref(), Some("older events: tollgate events --before 90"));
        let mut third = args(Some(90), None, 2);
        third.integration = Some(3);
        assert_eq!(
            hint(&third, &page(&[88, 89], Some(88))).as_deref(),
            Some("older events: tollgate events --before 88 --integration 3 --limit 2")
        );
        assert_eq!(hint(&args(None, None, 50), &page(&[1, 2], None)), None, "the first page");
        let full = hint(&args(None, Some(10), 2), &page(&[11, 12], Some(12)));
        assert_eq!(full.as_deref(), Some("newer events: tollgate events --after 12 --limit 2"));
        assert_eq!(hint(&args(None, Some(10), 3), &page(&[11, 12], Some(12))), None);
    }

    #[test]
    fn an_event_is_one_line_with_its_detail() {
        let finished = event(
            "work_item_finished",
            json!({"outcome": "failed", "attempt": 1, "message": "exited with code 2"}),
        );
        assert_eq!(
            render_event(&finished, link),
            "41 2026-08-01T12:00:00Z work_item_finished demo/greeter dev integration 3 \
             demo/greeter:debian-12:Build attempt=1 message=\"exited with code 2\" outcome=failed\n"
        );
    }

    fn link(path: &str) -> String {
        format!("http://127.0.0.1:8080{path}")
    }

    #[test]
    fn a_rejection_is_explained_under_its_event() {
        let failure = tollgate_api::FailureView {
            work_item: "demo/greeter:debian-12:Test".into(),
            project: "demo/greeter".into(),
            configuration: "debian-12".into(),
            location: "demo/greeter/coin/module_config.yaml:9:7".into(),
            instruction: "ExecuteCommand".into(),
            message: "exited with code 1".into(),
            user_message: Some("A test failed.".into()),
            log: Some("/api/log?item=demo/greeter:debian-12:Test&integration=3".into()),
            excerpt: vec!["FAIL!  : tst_Greeter::french()".into()],
            tests: Vec::new(),
        };
        let rejection = Rejection::Failed { failures: vec![failure], batch: vec![12] };
        let mut decided =
            event("gate_decided", json!({"decision": "reject", "rejection": rejection}));
        decided.work_item = None;
        assert_eq!(
            render_event(&decided, link),
            "41 2026-08-01T12:00:00Z gate_decided demo/greeter dev integration 3 decision=reject
  change 12, integrated alone
  demo/greeter:debian-12:Test: demo/greeter/coin/module_config.yaml:9:7: ExecuteCommand exited with code 1: A test failed.
    | FAIL!  : tst_Greeter::french()
    log: http://127.0.0.1:8080/api/log?item=demo/greeter:debian-12:Test&integration=3
"
        );
    }

    #[test]
    fn an_event_without_detail_or_work_item_is_shorter() {
        let mut staged = event("staged", serde_json::Value::Null);
        staged.integration = None;
        staged.change = Some(12);
        staged.work_item = None;
        assert_eq!(
            render_event(&staged, link),
            "41 2026-08-01T12:00:00Z staged demo/greeter dev change 12\n"
        );
    }
}
