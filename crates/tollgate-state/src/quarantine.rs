//! The quarantine of tests: entries added and removed by admins, read by the gate at each
//! Test work item's end. An entry that ended stays, for who quarantined what and why; the
//! table grows with what admins do, a few hundred rows a year, not with the history.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tollgate_api::{NewQuarantine, QuarantineView};

use crate::{Db, StateError, now_ms};

/// A project's entries in force at a time, through the partial index of those not removed.
pub(crate) const IN_FORCE: &str = "SELECT id, project, test, configuration, owner, reason, until,
     added_at, added_by, removed_at, removed_by FROM quarantine INDEXED BY quarantine_in_force
     WHERE project = ? AND removed_at IS NULL AND until > ? ORDER BY id";
/// The newest entries, of one project (`?1`) or of all, newest first by the primary key.
pub(crate) const NEWEST: &str = "SELECT id, project, test, configuration, owner, reason, until,
     added_at, added_by, removed_at, removed_by FROM quarantine
     WHERE ? IS NULL OR project = ? ORDER BY id DESC LIMIT ?";

impl Db {
    /// Adds an entry; `by` is the token that asked.
    pub async fn add_quarantine(
        &self,
        new: &NewQuarantine,
        by: Option<&str>,
    ) -> Result<QuarantineView, StateError> {
        let row = sqlx::query(
            "INSERT INTO quarantine (project, test, configuration, owner, reason, until, added_at,
             added_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, project, test, configuration,
             owner, reason, until, added_at, added_by, removed_at, removed_by",
        )
        .bind(&new.project)
        .bind(&new.test)
        .bind(&new.configuration)
        .bind(&new.owner)
        .bind(&new.reason)
        .bind(new.until)
        .bind(now_ms())
        .bind(by)
        .fetch_one(&self.writer)
        .await?;
        self.wrote();
        view(&row)
    }

    /// Ends an entry before its time. Removing it again changes nothing.
    pub async fn remove_quarantine(
        &self,
        id: i64,
        by: Option<&str>,
    ) -> Result<QuarantineView, StateError> {
        sqlx::query(
            "UPDATE quarantine SET removed_at = ?, removed_by = ? WHERE id = ? AND removed_at IS NULL",
        )
        .bind(now_ms())
        .bind(by)
        .bind(id)
        .execute(&self.writer)
        .await?;
        self.wrote();
        let row = sqlx::query(
            "SELECT id, project, test, configuration, owner, reason, until, added_at, added_by,
             removed_at, removed_by FROM quarantine WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        row.map(|row| view(&row))
            .transpose()?
            .ok_or_else(|| StateError::NotFound(format!("no quarantine entry {id}")))
    }

    /// A project's entries in force at `now_ms`, oldest first.
    pub async fn quarantine_in_force(
        &self,
        project: &str,
        now_ms: i64,
    ) -> Result<Vec<QuarantineView>, StateError> {
        let rows = sqlx::query(IN_FORCE).bind(project).bind(now_ms).fetch_all(&self.pool).await?;
        rows.iter().map(view).collect()
    }

    /// The newest `limit` entries, ended ones too, of a project or of every project.
    pub async fn quarantine(
        &self,
        project: Option<&str>,
        limit: i64,
    ) -> Result<Vec<QuarantineView>, StateError> {
        let rows = sqlx::query(NEWEST)
            .bind(project)
            .bind(project)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(view).collect()
    }
}

fn view(row: &SqliteRow) -> Result<QuarantineView, StateError> {
    Ok(QuarantineView {
        id: row.try_get("id")?,
        project: row.try_get("project")?,
        test: row.try_get("test")?,
        configuration: row.try_get("configuration")?,
        owner: row.try_get("owner")?,
        reason: row.try_get("reason")?,
        until: row.try_get("until")?,
        added_at: row.try_get("added_at")?,
        added_by: row.try_get("added_by")?,
        removed_at: row.try_get("removed_at")?,
        removed_by: row.try_get("removed_by")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(test: &str, until: i64) -> NewQuarantine {
        NewQuarantine {
            project: "demo/app".into(),
            test: test.into(),
            configuration: Some("^linux".into()),
            owner: "qa-team".into(),
            reason: "QTBUG-1".into(),
            until,
        }
    }

    #[tokio::test]
    async fn entries_are_in_force_until_they_end_or_are_removed_and_stay_listed() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("state.sqlite")).await.unwrap();
        let a = db.add_quarantine(&entry("tst_a::*", 2_000), Some("admin")).await.unwrap();
        let b = db.add_quarantine(&entry("tst_b::one", 5_000), None).await.unwrap();
        assert_eq!(
            (a.added_by.as_deref(), a.configuration.as_deref()),
            (Some("admin"), Some("^linux"))
        );
        let ids = |entries: Vec<QuarantineView>| entries.iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(db.quarantine_in_force("demo/app", 1_000).await.unwrap()), [a.id, b.id]);
        assert_eq!(ids(db.quarantine_in_force("demo/app", 2_000).await.unwrap()), [b.id]);
        assert!(db.quarantine_in_force("demo/other", 0).await.unwrap().is_empty());

        let removed = db.remove_quarantine(b.id, Some("ops")).await.unwrap();
        assert_eq!(removed.removed_by.as_deref(), Some("ops"));
        assert!(
            db.quarantine_in_force("demo/app", 1_000).await.unwrap().iter().all(|e| e.id == a.id)
        );
        let again = db.remove_quarantine(b.id, Some("someone else")).await.unwrap();
        assert_eq!(again.removed_at, removed.removed_at, "removed once");
        assert_eq!(ids(db.quarantine(Some("demo/app"), 50).await.unwrap()), [b.id, a.id]);
        assert_eq!(ids(db.quarantine(None, 1).await.unwrap()), [b.id]);
        assert!(matches!(db.remove_quarantine(99, None).await, Err(StateError::NotFound(_))));
    }
}
