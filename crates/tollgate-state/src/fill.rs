//! A finished history written in bulk, for benchmarks only (`tollgate-controller`'s `history`
//! bench): integrations with their change, work items and events as the transitions leave
//! them, one `INSERT … SELECT` over a counter per table and batch. Written a transition at a
//! time, a year of history would take hours. It checks nothing the transitions check: the
//! service never calls it.

use tollgate_api::{MergeResult, Rejection};

use crate::text::{name, to_json};
use crate::{Db, StateError, now_ms};

/// Integrations written per transaction, with their work items and events.
const BATCH: i64 = 2_000;
/// How far apart the history's integrations were formed: 100,000 of them make a year.
const EVERY_MS: i64 = 300_000;

/// What to write.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct History<'a> {
    pub project: &'a str,
    /// The first one gets nine integrations in ten; the tenth goes to the others in turn.
    pub branches: &'a [&'a str],
    pub integrations: i64,
    /// Every integration's work items, in plan order.
    pub items: &'a [&'a str],
    /// Per integration: staged, started, formed, planned, a start and an end per work item
    /// in turn, the gate, the push, the end.
    pub events_per_integration: i64,
}

const NEXT_INTEGRATION: &str = "SELECT COALESCE(MAX(id), 0) + 1 FROM integrations";
const NEXT_CHANGE: &str = "SELECT COALESCE(MAX(id), 0) + 1 FROM changes";

// `?` parameters in the order each query binds them; `n` counts from the first to the last
// row of the batch.
const COUNTER: &str =
    "WITH RECURSIVE n(k) AS (SELECT ? UNION ALL SELECT k + 1 FROM n WHERE k + 1 < ?)";

/// first id, project, branches (JSON), branch count twice, rejection, start time twice.
const INTEGRATIONS: &str = "INSERT INTO integrations
     (id, project, branch, state, base, commit_id, rejection, created_at, finished_at)
     SELECT ? + k, ?,
       json_extract(?, '$[' || (CASE WHEN ? > 1 AND k % 10 = 9 THEN 1 + (k / 10) % (? - 1)
         ELSE 0 END) || ']'),
       CASE WHEN k % 7 = 6 THEN 'rejected' ELSE 'merged' END,
       printf('%040x', k), printf('%040x', k + 1),
       CASE WHEN k % 7 = 6 THEN ? END,
       ? + k * 300000, ? + k * 300000 + 240000
     FROM n";
/// first change id, first integration id.
const CHANGES: &str = "INSERT INTO changes
     (id, project, branch, commit_id, subject, author, origin, state, staged_at, integration,
      rejection)
     SELECT ? + k, i.project, i.branch, i.commit_id, 'Change ' || k, 'Dev <dev@example.org>',
       'api', i.state, i.created_at - 60000, i.id, i.rejection
     FROM n JOIN integrations i ON i.id = ? + k";
/// first integration id, first change id, merge result.
const INTEGRATION_CHANGES: &str = "INSERT INTO integration_changes (integration, change,
     position, merge) SELECT ? + k, ? + k, 0, ? FROM n";
/// (over work items) first integration id, items per integration, items (JSON).
const WORK_ITEMS: &str = "INSERT INTO work_items (integration, position, item, build_key,
     significant, state, attempts, started_at, finished_at, log_digest)
     SELECT i.id, w.position, json_extract(?, '$[' || w.position || ']'), printf('%064x', w.k),
       1, 'passed', 1, i.created_at + 10000, i.created_at + 200000, printf('%064x', w.k + 1)
     FROM (SELECT k, k / ? AS x, k % ? AS position FROM n) w
     JOIN integrations i ON i.id = ? + w.x";
/// (over events) items (JSON), items per integration, events per integration three times,
/// events per integration twice, first change id, first integration id.
const EVENTS: &str = "INSERT INTO events (at, kind, project, branch, integration, change,
     work_item, detail)
     SELECT i.created_at + e.j * 1000,
       CASE WHEN e.j = 0 THEN 'staged' WHEN e.j = 1 THEN 'integration_started'
         WHEN e.j = 2 THEN 'integration_formed' WHEN e.j = 3 THEN 'planned'
         WHEN e.j = ? - 3 THEN 'gate_decided' WHEN e.j = ? - 2 THEN 'pushed'
         WHEN e.j = ? - 1 THEN 'integration_finished'
         WHEN (e.j - 4) % 2 = 0 THEN 'work_item_started' ELSE 'work_item_finished' END,
       i.project, i.branch,
       CASE WHEN e.j > 0 THEN i.id END,
       CASE WHEN e.j = 0 THEN ? + e.x END,
       CASE WHEN e.j >= 4 AND e.j < ? - 3
         THEN json_extract(?, '$[' || ((e.j - 4) / 2 % ?) || ']') END,
       json_object('state', 'passed', 'log', printf('%064x', e.k))
     FROM (SELECT k, k / ? AS x, k % ? AS j FROM n) e
     JOIN integrations i ON i.id = ? + e.x";

impl Db {
    /// Writes `history` after whatever the database holds, ending a few minutes ago.
    #[doc(hidden)]
    pub async fn fill_history(&self, history: &History<'_>) -> Result<(), StateError> {
        let first_integration: i64 =
            sqlx::query_scalar(NEXT_INTEGRATION).fetch_one(&self.writer).await?;
        let first_change: i64 = sqlx::query_scalar(NEXT_CHANGE).fetch_one(&self.writer).await?;
        let branches = serde_json::to_string(history.branches).expect("names serialise");
        let items = serde_json::to_string(history.items).expect("names serialise");
        let per_item = history.items.len() as i64;
        let per_event = history.events_per_integration;
        let start = now_ms() - (history.integrations + 1) * EVERY_MS;
        let rejection = to_json(&Rejection::Unrelated);
        let merge = name(&MergeResult::FastForward);
        let counted = |sql: &str| format!("{COUNTER}\n{sql}");
        let (integrations, changes, links, work_items, events) = (
            counted(INTEGRATIONS),
            counted(CHANGES),
            counted(INTEGRATION_CHANGES),
            counted(WORK_ITEMS),
            counted(EVENTS),
        );
        let mut from = 0;
        while from < history.integrations {
            let to = (from + BATCH).min(history.integrations);
            let mut tx = self.writer.begin().await?;
            sqlx::query(sqlx::AssertSqlSafe(integrations.as_str()))
                .bind(from)
                .bind(to)
                .bind(first_integration)
                .bind(history.project)
                .bind(&branches)
                .bind(history.branches.len() as i64)
                .bind(history.branches.len() as i64)
                .bind(&rejection)
                .bind(start)
                .bind(start)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(changes.as_str()))
                .bind(from)
                .bind(to)
                .bind(first_change)
                .bind(first_integration)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(links.as_str()))
                .bind(from)
                .bind(to)
                .bind(first_integration)
                .bind(first_change)
                .bind(&merge)
                .execute(&mut *tx)
                .await?;
            if per_item > 0 {
                sqlx::query(sqlx::AssertSqlSafe(work_items.as_str()))
                    .bind(from * per_item)
                    .bind(to * per_item)
                    .bind(&items)
                    .bind(per_item)
                    .bind(per_item)
                    .bind(first_integration)
                    .execute(&mut *tx)
                    .await?;
            }
            if per_event > 0 {
                sqlx::query(sqlx::AssertSqlSafe(events.as_str()))
                    .bind(from * per_event)
                    .bind(to * per_event)
                    .bind(per_event)
                    .bind(per_event)
                    .bind(per_event)
                    .bind(first_change)
                    .bind(per_event)
                    .bind(&items)
                    .bind(per_item.max(1))
                    .bind(per_event)
                    .bind(per_event)
                    .bind(first_integration)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            from = to;
        }
        // The service starts on a short write-ahead log, as after any quiet period.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.writer).await?;
        Ok(())
    }
}
