//! `tollgate work-item WORK_ITEM --integration N`: one work item of an integration, as its
//! page shows it: how it ended and why, where its result came from, its archives and its
//! tests.

use std::fmt::Write;
use std::process::ExitCode;

use tollgate_api::{TestOutcome, WorkItemDetail, routes};

use super::client::{self, ServerArgs};
use super::text::{item_state, now_ms, plural, time};

#[derive(clap::Args, Debug)]
pub struct WorkItemArgs {
    /// The work item, as the integration lists it: `demo/app:linux:Test`.
    pub work_item: String,
    /// The integration it ran in.
    #[arg(long, value_name = "ID")]
    pub integration: i64,
    /// Lists the tests that passed too.
    #[arg(long)]
    pub all: bool,
    /// Prints the service's answer as JSON, as it came.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(args: &WorkItemArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        let path = routes::work_item(args.integration, &args.work_item);
        if args.json {
            client::print_json(&client.get_raw(&path, &[]).await?)?;
        } else {
            let detail: WorkItemDetail = client.get(&path, &[]).await?;
            client::print(&render(&detail, args.all))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The human form; `all` lists the passed tests too.
pub fn render(detail: &WorkItemDetail, all: bool) -> String {
    let item = &detail.item;
    let mut out = format!(
        "{} in integration {} ({} {}): {}\n",
        item.id,
        detail.integration,
        detail.project,
        detail.branch,
        item_state(item, Some(now_ms()))
    );
    if let Some(failure) = &item.failure {
        let _ =
            writeln!(out, "  {} at {}: {}", failure.instruction, failure.location, failure.message);
        if let Some(user) = &failure.user_message {
            let _ = writeln!(out, "  {user}");
        }
    }
    let _ = writeln!(out, "  build key {}", item.build_key);
    if let Some(from) = detail.reused_from {
        let _ = writeln!(out, "  reused the result of integration {from}");
    }
    for archive in &detail.archives {
        let _ = writeln!(out, "  archive {} ({})", archive.name, archive.digest);
    }
    if detail.tests.is_empty() {
        return out;
    }
    let count = |outcome| detail.tests.iter().filter(|t| t.outcome == outcome).count();
    let _ = writeln!(
        out,
        "  {}: {} failed, {} skipped, {} passed",
        plural(detail.tests.len(), "test"),
        count(TestOutcome::Failed),
        count(TestOutcome::Skipped),
        count(TestOutcome::Passed)
    );
    for test in &detail.tests {
        if test.outcome == TestOutcome::Passed && !all {
            continue;
        }
        let why = test.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        let first = why.lines().next().unwrap_or_default();
        let _ = writeln!(out, "    {:<7} {}{first}", test.outcome.as_str(), test.name);
        let quarantined = item.quarantined.iter().find(|q| q.name == test.name);
        if let Some(q) = quarantined.filter(|_| test.outcome == TestOutcome::Failed) {
            let _ = writeln!(
                out,
                "            quarantined (entry {}, {}, until {}): {}",
                q.quarantine,
                q.owner,
                time(q.until),
                q.reason
            );
        }
    }
    out
}
