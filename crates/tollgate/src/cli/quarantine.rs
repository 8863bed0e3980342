//! `tollgate quarantine add`, `list` and `remove`: tests whose failures do not reject for a
//! while, each with an owner, a reason and an end (admins add and remove them).

use std::time::{Duration, UNIX_EPOCH};

use std::process::ExitCode;

use tollgate_api::{NewQuarantine, QuarantineView, routes};

use super::client::{self, ServerArgs};
use super::text::{now_ms, table, time};

#[derive(clap::Args, Debug)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    pub command: QuarantineCommand,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum QuarantineCommand {
    /// Quarantines a test: it still runs and is reported, but its failure does not reject
    /// until the entry ends; then it gates again by itself.
    Add(AddArgs),
    /// Lists the entries in force, newest first.
    List(ListArgs),
    /// Ends an entry now: the test gates again from its next run.
    Remove(RemoveArgs),
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// The project: `qt/qtbase`.
    pub project: String,
    /// The test as its results name it (`tst_qstring::append`, as `tollgate work-item` lists
    /// it), or a prefix ending in `*` (`tst_qstring::*`).
    pub test: String,
    /// Only on the platform configurations whose id this regular expression finds a match in
    /// (`^linux-`) [default: every configuration].
    #[arg(long, value_name = "RE")]
    pub configuration: Option<String>,
    /// Who looks after it: a person or a team.
    #[arg(long)]
    pub owner: String,
    /// When it ends: a day (`2027-01-31`, to its end, UTC), a time (`2027-01-31T12:00:00Z`),
    /// or a while from now (`14days`, `12h`).
    #[arg(long, value_name = "WHEN")]
    pub until: String,
    /// Why, or the ticket that tracks it.
    #[arg(long)]
    pub reason: String,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only this project's.
    pub project: Option<String>,
    /// Ended and removed entries too.
    #[arg(long)]
    pub all: bool,
    /// Prints the service's answer as JSON, as it came.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// The entry's id, as `list` shows it.
    pub id: i64,
}

pub fn run(args: &QuarantineArgs) -> anyhow::Result<ExitCode> {
    // Read before the service is asked, so that a mistake costs no request.
    let until = match &args.command {
        QuarantineCommand::Add(add) => match until(&add.until, now_ms()) {
            Ok(until) => Some(until),
            Err(error) => {
                eprintln!("error: --until: {error}");
                return Ok(ExitCode::from(super::EXIT_USAGE));
            }
        },
        _ => None,
    };
    client::run(&args.server, async |client| {
        match &args.command {
            QuarantineCommand::Add(add) => {
                let new = NewQuarantine {
                    project: add.project.clone(),
                    test: add.test.clone(),
                    configuration: add.configuration.clone(),
                    owner: add.owner.clone(),
                    reason: add.reason.clone(),
                    until: until.expect("read above"),
                };
                let added: QuarantineView = client.post(routes::QUARANTINE, &new).await?;
                client::print(&format!(
                    "quarantine entry {}: {} of {} {}, until {}\n",
                    added.id,
                    added.test,
                    added.project,
                    on(&added),
                    time(added.until)
                ))?;
            }
            QuarantineCommand::List(list) => {
                let mut query = vec![("all", list.all.to_string())];
                query.extend(list.project.clone().map(|project| ("project", project)));
                if list.json {
                    client::print_json(&client.get_raw(routes::QUARANTINE, &query).await?)?;
                } else {
                    let entries: Vec<QuarantineView> =
                        client.get(routes::QUARANTINE, &query).await?;
                    client::print(&render(&entries, now_ms()))?;
                }
            }
            QuarantineCommand::Remove(remove) => {
                let removed: QuarantineView =
                    client.post_empty(&routes::remove_quarantine(remove.id)).await?;
                client::print(&format!(
                    "quarantine entry {} removed: {} of {} gates again\n",
                    removed.id, removed.test, removed.project
                ))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `--until`'s value as ms: a day (to its end, UTC), an RFC 3339 time, or a duration from
/// `now`.
pub fn until(text: &str, now: i64) -> Result<i64, String> {
    let ms = |at: std::time::SystemTime| {
        at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    };
    let text = text.trim();
    if let Ok(day) = humantime::parse_rfc3339(&format!("{text}T00:00:00Z")) {
        return Ok(ms(day + Duration::from_secs(86_400)));
    }
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(ms(at));
    }
    match humantime::parse_duration(text) {
        Ok(after) => Ok(now + after.as_millis() as i64),
        Err(_) => Err(format!(
            "`{text}` is not a day (2027-01-31), a time (2027-01-31T12:00:00Z) or a while from now (14days, 12h)"
        )),
    }
}

fn on(entry: &QuarantineView) -> String {
    match &entry.configuration {
        Some(configuration) => format!("on configurations matching `{configuration}`"),
        None => "on every configuration".to_owned(),
    }
}

/// One row per entry: id, project, test, configurations, owner, end, reason.
pub fn render(entries: &[QuarantineView], now: i64) -> String {
    if entries.is_empty() {
        return "no test is quarantined\n".to_owned();
    }
    let mut rows = vec![
        ["ID", "PROJECT", "TEST", "CONFIGURATION", "OWNER", "UNTIL", "REASON"]
            .map(String::from)
            .to_vec(),
    ];
    for entry in entries {
        let until = match (entry.removed_at, entry.active(now)) {
            (Some(at), _) => format!("removed {}", time(at)),
            (None, true) => time(entry.until),
            (None, false) => format!("ended {}", time(entry.until)),
        };
        rows.push(vec![
            entry.id.to_string(),
            entry.project.clone(),
            entry.test.clone(),
            entry.configuration.clone().unwrap_or_else(|| "*".to_owned()),
            entry.owner.clone(),
            until,
            entry.reason.clone(),
        ]);
    }
    table(&rows, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_is_a_day_to_its_end_a_time_or_a_while_from_now() {
        // 2026-08-01T12:00:00Z
        let now = 1_785_585_600_000;
        assert_eq!(time(until("2026-08-01", now).unwrap()), "2026-08-02T00:00:00Z");
        assert_eq!(time(until("2026-08-03T06:30:00Z", now).unwrap()), "2026-08-03T06:30:00Z");
        assert_eq!(until("2h", now).unwrap(), now + 7_200_000);
        assert_eq!(time(until("14days", now).unwrap()), "2026-08-15T12:00:00Z");
        assert!(until("next friday", now).unwrap_err().contains("is not a day"));
    }

    #[test]
    fn entries_are_a_table_that_says_which_ended() {
        let entry = |id, removed_at| QuarantineView {
            id,
            project: "demo/app".into(),
            test: "tst_a::one".into(),
            configuration: None,
            owner: "qa".into(),
            reason: "QTBUG-1".into(),
            until: 1_785_585_600_000,
            added_at: 0,
            added_by: None,
            removed_at,
            removed_by: None,
        };
        let text = render(&[entry(2, Some(1_785_500_000_000)), entry(1, None)], 1_785_585_000_000);
        assert_eq!(
            text,
            "\
ID  PROJECT   TEST        CONFIGURATION  OWNER  UNTIL                         REASON
2   demo/app  tst_a::one  *              qa     removed 2026-07-31T12:13:20Z  QTBUG-1
1   demo/app  tst_a::one  *              qa     2026-08-01T12:00:00Z          QTBUG-1
"
        );
        assert!(
            render(&[entry(1, None)], 1_785_585_600_000).contains("ended 2026-08-01T12:00:00Z")
        );
        assert_eq!(render(&[], 0), "no test is quarantined\n");
    }
}
