//! The decision log: appended in the transaction of the transition it records.

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use tollgate_api::{EventView, Page};

use crate::page::{Cursor, cut};
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

/// The columns `event_view` reads; a macro so that queries stay static strings.
macro_rules! event_columns {
    () => {
        "SELECT seq, at, kind, project, branch, integration, change, work_item, detail FROM events"
    };
}

pub(crate) const BEFORE: &str =
    concat!(event_columns!(), " WHERE seq < ? ORDER BY seq DESC LIMIT ?");
pub(crate) const AFTER: &str = concat!(event_columns!(), " WHERE seq > ? ORDER BY seq LIMIT ?");
pub(crate) const OF_INTEGRATION_BEFORE: &str =
    concat!(event_columns!(), " WHERE integration = ? AND seq < ? ORDER BY seq DESC LIMIT ?");
pub(crate) const OF_INTEGRATION_AFTER: &str =
    concat!(event_columns!(), " WHERE integration = ? AND seq > ? ORDER BY seq LIMIT ?");
pub(crate) const LAST: &str = "SELECT COALESCE(MAX(seq), 0) FROM events";

impl Db {
    /// An entry about a branch itself, outside any integration: `branch_missing` when the
    /// remote lost it, `branch_back` when it has it again.
    pub async fn branch_event(
        &self,
        project: &str,
        branch: &str,
        kind: &str,
        detail: Value,
    ) -> Result<(), StateError> {
        let mut connection = self.writer.acquire().await?;
        let event = Event {
            kind,
            project,
            branch,
            integration: None,
            change: None,
            work_item: None,
            detail,
        };
        event.append(&mut connection).await?;
        self.wrote();
        Ok(())
    }

    /// A page of the log, optionally of one integration: the newest entries, those before a
    /// cursor (newest first) or those after it (oldest first, to follow the log).
    pub async fn events(
        &self,
        integration: Option<i64>,
        cursor: Cursor,
        limit: i64,
    ) -> Result<Page<EventView>, StateError> {
        let sql = match (integration, cursor) {
            (None, Cursor::After(_)) => AFTER,
            (None, _) => BEFORE,
            (Some(_), Cursor::After(_)) => OF_INTEGRATION_AFTER,
            (Some(_), _) => OF_INTEGRATION_BEFORE,
        };
        let mut query = sqlx::query(sql);
        if let Some(integration) = integration {
            query = query.bind(integration);
        }
        let rows = query.bind(cursor.bound()).bind(limit + 1).fetch_all(&self.pool).await?;
        let events = rows.iter().map(event_view).collect::<Result<_, _>>()?;
        Ok(cut(events, limit, cursor, |event: &EventView| event.seq))
    }

    /// The newest entry's number: where a follower starts.
    pub async fn last_event(&self) -> Result<i64, StateError> {
        Ok(sqlx::query_scalar(LAST).fetch_one(&self.pool).await?)
    }
}

fn event_view(row: &SqliteRow) -> Result<EventView, StateError> {
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
}
