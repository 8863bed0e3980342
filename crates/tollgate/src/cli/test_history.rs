//! `tollgate tests PROJECT`: the project's tests that failed lately, per platform
//! configuration, with their flakes and failure rate.

use std::process::ExitCode;

use tollgate_api::{TestHistory, routes};

use super::client::{self, ServerArgs};
use super::text::{age, now_ms, table};

#[derive(clap::Args, Debug)]
pub struct TestsArgs {
    /// The project: `qt/qtbase`.
    pub project: String,
    /// How many days back.
    #[arg(long, default_value_t = 30)]
    pub days: i64,
    /// Prints the service's answer as JSON, as it came.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(args: &TestsArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        let query = [("project", args.project.clone()), ("days", args.days.to_string())];
        if args.json {
            client::print_json(&client.get_raw(routes::TESTS, &query).await?)?;
        } else {
            let history: Vec<TestHistory> = client.get(routes::TESTS, &query).await?;
            client::print(&render(&history, args.days, now_ms()))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One row per test and configuration, most failures first.
pub fn render(history: &[TestHistory], days: i64, now: i64) -> String {
    if history.is_empty() {
        return format!("no test failed in the last {days} days\n");
    }
    let mut rows = vec![
        ["TEST", "CONFIGURATION", "RUNS", "FAILURES", "FLAKES", "RATE", "LAST FAILED"]
            .map(String::from)
            .to_vec(),
    ];
    for test in history {
        rows.push(vec![
            test.test.clone(),
            test.configuration.clone(),
            test.runs.to_string(),
            test.failures.to_string(),
            test.flakes.to_string(),
            format!("{:.1}%", 100.0 * test.failure_rate),
            age(test.last_failed, now),
        ]);
    }
    table(&rows, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_a_table_most_failures_first_as_the_service_sorts_it() {
        let test = |name: &str, failures, flakes| TestHistory {
            configuration: "linux".into(),
            work_item: "demo/app:linux:Test".into(),
            test: name.into(),
            runs: 40,
            failures,
            flakes,
            failure_rate: failures as f64 / 40.0,
            last_failed: 0,
        };
        let text = render(&[test("tst_a::one", 3, 2), test("tst_b", 1, 0)], 30, 7_200_000);
        assert_eq!(
            text,
            "\
TEST        CONFIGURATION  RUNS  FAILURES  FLAKES  RATE  LAST FAILED
tst_a::one  linux          40    3         2       7.5%  2 h ago
tst_b       linux          40    1         0       2.5%  2 h ago
"
        );
        assert_eq!(render(&[], 7, 0), "no test failed in the last 7 days\n");
    }
}
