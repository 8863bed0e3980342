//! The decision log: appended in the transaction of the transition it records.

use serde_json::Value;
use sqlx::{Row, SqliteConnection};
use tollgate_api::EventView;

use crate::{Db, Formed, StateError, now_ms};

/// One entry, before it is written.
pub(crate) struct Event<'a> {
    pub kind: &'a str,
    pub project: &'a str,
    pub branch: &'a str,
    pub integration: Option<i64>,
    pub change: Option<i64>,
    pub work_item: Option<&'a str>,
    pub detail: Value,
}

impl<'a> Event<'a> {
    /// An entry about `integration`; a change or a work item is added with struct update
    /// syntax (`Event { work_item: Some(item), ..Event::of(…) }`).
    pub(crate) fn of(integration: &'a Formed, kind: &'a str, detail: Value) -> Event<'a> {
        Event {
            kind,
            project: &integration.project,
            branch: &integration.branch,
            integration: Some(integration.id),
            change: None,
            work_item: None,
            detail,
        }
    }

    pub(crate) async fn append(self, tx: &mut SqliteConnection) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO events (at, kind, project, branch, integration, change, work_item, detail)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(now_ms())
        .bind(self.kind)
        .bind(self.project)
        .bind(self.branch)
        .bind(self.integration)
        .bind(self.change)
        .bind(self.work_item)
        .bind(self.detail.to_string())
        .execute(tx)
        .await?;
        Ok(())
    }
}

impl Db {
    /// Entries after `after`, oldest first, optionally of one integration.
    pub async fn events(
        &self,
        after: i64,
        integration: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventView>, StateError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, project, branch, integration, change, work_item, detail
             FROM events WHERE seq > ? AND (? IS NULL OR integration = ?) ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(integration)
        .bind(integration)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(EventView {
                    seq: row.try_get("seq")?,
                    at: row.try_get("at")?,
                    kind: row.try_get("kind")?,
                    project: row.try_get("project")?,
                    branch: row.try_get("branch")?,
                    integration: row.try_get("integration")?,
                    change: row.try_get("change")?,
                    work_item: row.try_get("work_item")?,
                    detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
                })
            })
            .collect()
    }

    /// The newest entry's number: where a follower starts.
    pub async fn last_event(&self) -> Result<i64, StateError> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(&self.pool)
            .await?)
    }
}
