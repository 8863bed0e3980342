//! Staging and unstaging changes, and the staging refs already seen.

use serde_json::json;
use sqlx::Row;
use tollgate_api::{ChangeState, ChangeView};

use crate::events::Event;
use crate::text::{from_json, name, parse};
use crate::{Db, StateError, now_ms};

/// What a staged commit is, as git describes it.
pub struct NewChange<'a> {
    pub project: &'a str,
    pub branch: &'a str,
    pub commit: &'a str,
    pub subject: &'a str,
    pub author: &'a str,
    /// `api`, or the staging ref that named it.
    pub origin: &'a str,
}

/// The columns `change_view` reads; a macro so that queries stay static strings.
macro_rules! change_columns {
    () => {
        "id, project, branch, commit_id, subject, author, origin, state, staged_at, integration, rejection"
    };
}

/// The branch's change of a commit that waits, runs or merged, looked up by the commit: the
/// branch's merged changes are its whole history.
pub(crate) const STAGED_COMMIT: &str = "SELECT id FROM changes INDEXED BY changes_by_commit
     WHERE commit_id = ? AND project = ? AND branch = ?
     AND state IN ('staged', 'integrating', 'merged') ORDER BY id DESC LIMIT 1";
/// A change of the branch's queue by its id or a prefix of its commit.
pub(crate) const UNSTAGE_MATCH: &str = "SELECT id FROM changes WHERE project = ? AND branch = ?
     AND state IN ('staged', 'integrating')
     AND (CAST(id AS TEXT) = ? OR (length(?) >= 4 AND commit_id LIKE ? || '%'))";
/// The newest change of a branch whose commit starts with a prefix (`>= prefix`, `< prefix
/// + 'g'`: hex digits sort below `g`), whatever its state.
pub(crate) const NEWEST_WITH_PREFIX: &str = "SELECT id FROM changes
     WHERE commit_id >= ? AND commit_id < ? AND project = ? AND branch = ?
     ORDER BY id DESC LIMIT 1";
pub(crate) const OF_BRANCH_IN: &str = concat!(
    "SELECT ",
    change_columns!(),
    " FROM changes WHERE project = ? AND branch = ? AND state = ? ORDER BY id"
);

impl Db {
    /// Stages a change; `false` with the existing change when the commit already waits, runs
    /// or was merged for the branch (staging is idempotent, also after the merge: the commit is
    /// on the branch, and integrating it again would change nothing). A commit that was
    /// rejected or unstaged is staged anew.
    pub async fn stage(&self, change: &NewChange<'_>) -> Result<(ChangeView, bool), StateError> {
        let mut tx = self.writer.begin().await?;
        let existing: Option<i64> = sqlx::query_scalar(STAGED_COMMIT)
            .bind(change.commit)
            .bind(change.project)
            .bind(change.branch)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(id) = existing {
            self.commit(tx).await?;
            return Ok((self.change(id).await?.expect("read in the same database"), false));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO changes (project, branch, commit_id, subject, author, origin, state, staged_at)
             VALUES (?, ?, ?, ?, ?, ?, 'staged', ?) RETURNING id",
        )
        .bind(change.project)
        .bind(change.branch)
        .bind(change.commit)
        .bind(change.subject)
        .bind(change.author)
        .bind(change.origin)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        Event {
            kind: "staged",
            project: change.project,
            branch: change.branch,
            integration: None,
            change: Some(id),
            work_item: None,
            detail: json!({ "commit": change.commit, "origin": change.origin }),
        }
        .append(&mut tx)
        .await?;
        self.commit(tx).await?;
        Ok((self.change(id).await?.expect("just written"), true))
    }

    /// Takes back a staged change, named by its id or a unique prefix of its commit. A change
    /// in a running integration is refused: cancel the integration first.
    pub async fn unstage(
        &self,
        project: &str,
        branch: &str,
        change: &str,
    ) -> Result<ChangeView, StateError> {
        let mut tx = self.writer.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(UNSTAGE_MATCH)
            .bind(project)
            .bind(branch)
            .bind(change)
            .bind(change)
            .bind(change.to_ascii_lowercase())
            .fetch_all(&mut *tx)
            .await?;
        let id = match ids.as_slice() {
            [id] => *id,
            [] => return Err(self.not_staged(project, branch, change).await?),
            _ => {
                return Err(StateError::Conflict(format!(
                    "`{change}` names {} staged changes of {project} {branch}; give more of the commit",
                    ids.len()
                )));
            }
        };
        let view = self.change_in(&mut tx, id).await?;
        if view.state == ChangeState::Integrating {
            let integration = view.integration.unwrap_or_default();
            return Err(StateError::Conflict(format!(
                "change {id} is in integration {integration}, which is running; `tollgate cancel {integration}` puts it back to staged first"
            )));
        }
        set_unstaged(&mut tx, project, branch, id, json!({ "commit": view.commit })).await?;
        self.commit(tx).await?;
        Ok(self.change(id).await?.expect("just written"))
    }

    /// Why `change` cannot be unstaged when no staged change matches: it was decided (or
    /// unstaged) already, or there is no such change.
    async fn not_staged(
        &self,
        project: &str,
        branch: &str,
        change: &str,
    ) -> Result<StateError, StateError> {
        let by_id = match change.parse::<i64>() {
            Ok(id) => self.change(id).await?.filter(|c| c.project == project && c.branch == branch),
            Err(_) => None,
        };
        // A commit's prefix can be all digits: what is no change's id may still be one.
        let prefix = change.to_ascii_lowercase();
        let is_prefix = prefix.len() >= 4 && prefix.bytes().all(|b| b.is_ascii_hexdigit());
        let found = match by_id {
            Some(found) => Some(found),
            None if is_prefix => {
                let id: Option<i64> = sqlx::query_scalar(NEWEST_WITH_PREFIX)
                    .bind(&prefix)
                    .bind(format!("{prefix}g"))
                    .bind(project)
                    .bind(branch)
                    .fetch_optional(&self.pool)
                    .await?;
                match id {
                    Some(id) => self.change(id).await?,
                    None => None,
                }
            }
            None => None,
        };
        let Some(found) = found else {
            return Ok(StateError::NotFound(format!(
                "no change `{change}` for {project} {branch}"
            )));
        };
        let id = found.id;
        let short = &found.commit[..found.commit.len().min(12)];
        let after = match found.integration {
            Some(integration) => format!(" by integration {integration}"),
            None => String::new(),
        };
        let why = match found.state {
            ChangeState::Merged => format!("was merged{after}"),
            ChangeState::Rejected => format!("was rejected{after}; stage it again to retry"),
            ChangeState::Unstaged => "was unstaged already".to_owned(),
            // Matched above unless the state moved meanwhile.
            ChangeState::Staged | ChangeState::Integrating => "changed meanwhile; try again".into(),
        };
        Ok(StateError::Conflict(format!("change {id} ({short}) {why}: nothing to unstage")))
    }

    pub async fn change(&self, id: i64) -> Result<Option<ChangeView>, StateError> {
        let mut connection = self.pool.acquire().await?;
        match self.change_in(&mut connection, id).await {
            Ok(view) => Ok(Some(view)),
            Err(StateError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn change_in(
        &self,
        connection: &mut sqlx::SqliteConnection,
        id: i64,
    ) -> Result<ChangeView, StateError> {
        let row = sqlx::query(concat!("SELECT ", change_columns!(), " FROM changes WHERE id = ?"))
            .bind(id)
            .fetch_optional(connection)
            .await?
            .ok_or_else(|| StateError::NotFound(format!("no change {id}")))?;
        change_view(&row)
    }

    /// Changes of a branch in a state, in staging order: the queue (staged), the batch running
    /// now (integrating). Not for the final states, which grow with history.
    pub async fn changes(
        &self,
        project: &str,
        branch: &str,
        state: ChangeState,
    ) -> Result<Vec<ChangeView>, StateError> {
        let rows = sqlx::query(OF_BRANCH_IN)
            .bind(project)
            .bind(branch)
            .bind(name(&state))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(change_view).collect()
    }

    /// The commit a staging ref was last staged at.
    pub async fn staging_ref(
        &self,
        project: &str,
        reference: &str,
    ) -> Result<Option<String>, StateError> {
        Ok(sqlx::query_scalar(
            "SELECT commit_id FROM staging_refs WHERE project = ? AND ref_name = ?",
        )
        .bind(project)
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The staging ref was removed: the same commit pushed there again is staged anew.
    pub async fn forget_staging_ref(
        &self,
        project: &str,
        reference: &str,
    ) -> Result<(), StateError> {
        sqlx::query("DELETE FROM staging_refs WHERE project = ? AND ref_name = ?")
            .bind(project)
            .bind(reference)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn set_staging_ref(
        &self,
        project: &str,
        reference: &str,
        commit: &str,
    ) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO staging_refs (project, ref_name, commit_id) VALUES (?, ?, ?)
             ON CONFLICT (project, ref_name) DO UPDATE SET commit_id = excluded.commit_id",
        )
        .bind(project)
        .bind(reference)
        .bind(commit)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

/// Marks a waiting change unstaged, with its entry in the log.
pub(crate) async fn set_unstaged(
    tx: &mut sqlx::SqliteConnection,
    project: &str,
    branch: &str,
    id: i64,
    detail: serde_json::Value,
) -> Result<(), StateError> {
    sqlx::query("UPDATE changes SET state = 'unstaged' WHERE id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let event = Event {
        kind: "unstaged",
        project,
        branch,
        integration: None,
        change: Some(id),
        work_item: None,
        detail,
    };
    event.append(tx).await
}

fn change_view(row: &sqlx::sqlite::SqliteRow) -> Result<ChangeView, StateError> {
    let state: String = row.try_get("state")?;
    Ok(ChangeView {
        id: row.try_get("id")?,
        project: row.try_get("project")?,
        branch: row.try_get("branch")?,
        commit: row.try_get("commit_id")?,
        subject: row.try_get("subject")?,
        author: row.try_get("author")?,
        state: parse(&state)?,
        origin: row.try_get("origin")?,
        staged_at: row.try_get("staged_at")?,
        integration: row.try_get("integration")?,
        rejection: from_json(row.try_get("rejection")?)?,
    })
}
