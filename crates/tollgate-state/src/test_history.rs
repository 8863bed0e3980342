//! The history of tests per platform configuration and day (`item_days`, `test_days`): fed by
//! every run of a Test work item, read as failure and flake rates over a window.

use sqlx::Row;
use tollgate_api::{TestHistory, TestRecord};

use crate::{Db, StateError};

const DAY_MS: i64 = 86_400_000;

/// The tests of a project that failed since a day, per configuration: a few hundred rows of a
/// window, grouped and sorted after the lookup.
pub(crate) const FAILED_SINCE: &str = "SELECT t.configuration, t.item, t.test,
     SUM(t.failures) AS failures, SUM(t.flakes) AS flakes, MAX(t.last_failed) AS last_failed,
     (SELECT COALESCE(SUM(i.runs), 0) FROM item_days AS i WHERE i.project = t.project
        AND i.configuration = t.configuration AND i.item = t.item AND i.day >= ?) AS runs
     FROM test_days AS t INDEXED BY test_days_by_day WHERE t.project = ? AND t.day >= ?
     GROUP BY t.configuration, t.item, t.test ORDER BY failures DESC, t.test LIMIT ?";

/// One test's failures and flakes since a day, by the primary key's prefix.
pub(crate) const TEST_SINCE: &str = "SELECT COALESCE(SUM(failures), 0), COALESCE(SUM(flakes), 0)
     FROM test_days WHERE project = ? AND configuration = ? AND test = ? AND day >= ?";
/// A work item's runs since a day, by the primary key's prefix.
pub(crate) const RUNS_SINCE: &str = "SELECT COALESCE(SUM(runs), 0) FROM item_days
     WHERE project = ? AND configuration = ? AND item = ? AND day >= ?";

impl Db {
    /// A test's last 30 days on a configuration, up to `now_ms`.
    pub async fn test_record(
        &self,
        (project, configuration, item): (&str, &str, &str),
        test: &str,
        now_ms: i64,
    ) -> Result<TestRecord, StateError> {
        let since = now_ms / DAY_MS - 29;
        let (failures, flakes): (i64, i64) = sqlx::query_as(TEST_SINCE)
            .bind(project)
            .bind(configuration)
            .bind(test)
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
        let runs: i64 = sqlx::query_scalar(RUNS_SINCE)
            .bind(project)
            .bind(configuration)
            .bind(item)
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
        let count = |n: i64| n.max(0) as u64;
        Ok(TestRecord { runs: count(runs), failures: count(failures), flakes: count(flakes) })
    }

    /// A Test work item of `project` on `configuration` ran at `at_ms`, and `failed` failed.
    pub async fn tests_ran(
        &self,
        (project, configuration, item): (&str, &str, &str),
        failed: &[String],
        at_ms: i64,
    ) -> Result<(), StateError> {
        let day = at_ms / DAY_MS;
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO item_days (project, configuration, item, day, runs) VALUES (?, ?, ?, ?, 1)
             ON CONFLICT (project, configuration, item, day) DO UPDATE SET runs = runs + 1",
        )
        .bind(project)
        .bind(configuration)
        .bind(item)
        .bind(day)
        .execute(&mut *tx)
        .await?;
        for test in failed {
            add_day(&mut tx, (project, configuration, item, test), (1, 0), at_ms).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// The failures of `tests` on `at_ms`'s day were forgiven as flakes.
    pub async fn tests_flaked(
        &self,
        (project, configuration, item): (&str, &str, &str),
        tests: &[String],
        at_ms: i64,
    ) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        for test in tests {
            add_day(&mut tx, (project, configuration, item, test), (0, 1), at_ms).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// The project's tests that failed in the `days` up to `now_ms`, most failures first.
    pub async fn test_history(
        &self,
        project: &str,
        days: i64,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<TestHistory>, StateError> {
        let since = now_ms / DAY_MS - days.max(1) + 1;
        let rows = sqlx::query(FAILED_SINCE)
            .bind(since)
            .bind(project)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let runs: i64 = row.try_get("runs")?;
                let failures: i64 = row.try_get("failures")?;
                Ok(TestHistory {
                    configuration: row.try_get("configuration")?,
                    work_item: row.try_get("item")?,
                    test: row.try_get("test")?,
                    runs: runs.max(0) as u64,
                    failures: failures.max(0) as u64,
                    flakes: row.try_get::<i64, _>("flakes")?.max(0) as u64,
                    failure_rate: match runs {
                        0 => 0.0,
                        runs => failures as f64 / runs as f64,
                    },
                    last_failed: row.try_get("last_failed")?,
                })
            })
            .collect()
    }
}

/// Adds `(failures, flakes)` to a test's day.
async fn add_day(
    tx: &mut sqlx::SqliteConnection,
    (project, configuration, item, test): (&str, &str, &str, &str),
    (failures, flakes): (i64, i64),
    at_ms: i64,
) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO test_days
         (project, configuration, item, test, day, failures, flakes, last_failed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project, configuration, test, day) DO UPDATE SET
            failures = failures + excluded.failures, flakes = flakes + excluded.flakes,
            last_failed = MAX(last_failed, excluded.last_failed)",
    )
    .bind(project)
    .bind(configuration)
    .bind(item)
    .bind(test)
    .bind(at_ms / DAY_MS)
    .bind(failures)
    .bind(flakes)
    .bind(at_ms)
    .execute(tx)
    .await?;
    Ok(())
}
