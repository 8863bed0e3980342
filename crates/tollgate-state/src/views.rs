//! Reads for the API: integrations and branches as the wire types show them.
//!
//! A list is one query for a page of integrations and one for the changes of all of them,
//! however long the page: never a query per integration.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tollgate_api::{BranchView, ChangeState, IntegrationChange, IntegrationView, Page};

use crate::page::{Cursor, cut};
use crate::text::{from_json, parse};
use crate::{Db, StateError};

/// How many finished integrations a branch's status shows.
const RECENT: i64 = 5;

/// The columns `integration_view` reads; a macro so that queries stay static strings.
macro_rules! integration_columns {
    () => {
        "SELECT id, project, branch, state, base, commit_id, rejection, note, created_at, finished_at
         FROM integrations"
    };
}

pub(crate) const ONE: &str = concat!(integration_columns!(), " WHERE id = ?");
pub(crate) const BEFORE: &str =
    concat!(integration_columns!(), " WHERE id < ? ORDER BY id DESC LIMIT ?");
pub(crate) const OF_PROJECT_BEFORE: &str =
    concat!(integration_columns!(), " WHERE project = ? AND id < ? ORDER BY id DESC LIMIT ?");
pub(crate) const OF_BRANCH_BEFORE: &str = concat!(
    integration_columns!(),
    " WHERE project = ? AND branch = ? AND id < ? ORDER BY id DESC LIMIT ?"
);
/// The changes of a few integrations, named by a JSON array of their ids.
pub(crate) const CHANGES_OF: &str =
    "SELECT ic.integration, c.id, c.commit_id, c.subject, ic.merge, c.staged_at
     FROM integration_changes ic JOIN changes c ON c.id = ic.change
     WHERE ic.integration IN (SELECT value FROM json_each(?)) ORDER BY ic.integration, ic.position";
pub(crate) const BRANCHES: &str = "SELECT project, branch FROM branches ORDER BY project, branch";

/// Whose integrations a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    All,
    Project(&'a str),
    Branch { project: &'a str, branch: &'a str },
}

impl Db {
    /// One integration; with its work items when `items`.
    pub async fn integration_view(
        &self,
        id: i64,
        items: bool,
    ) -> Result<Option<IntegrationView>, StateError> {
        let rows: Vec<SqliteRow> =
            sqlx::query(ONE).bind(id).fetch_optional(&self.pool).await?.into_iter().collect();
        let Some(mut view) = self.views(&rows).await?.pop() else { return Ok(None) };
        if items {
            view.work_items = self.work_items(id).await?;
        }
        Ok(Some(view))
    }

    /// A page of integrations, newest first, without their work items.
    pub async fn integrations(
        &self,
        scope: Scope<'_>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Page<IntegrationView>, StateError> {
        let cursor = before.map_or(Cursor::Newest, Cursor::Before);
        let query = match scope {
            Scope::All => sqlx::query(BEFORE),
            Scope::Project(project) => sqlx::query(OF_PROJECT_BEFORE).bind(project),
            Scope::Branch { project, branch } => {
                sqlx::query(OF_BRANCH_BEFORE).bind(project).bind(branch)
            }
        };
        let rows = query.bind(cursor.bound()).bind(limit + 1).fetch_all(&self.pool).await?;
        let views = self.views(&rows).await?;
        Ok(cut(views, limit, cursor, |view: &IntegrationView| view.id))
    }

    /// Every gated branch: its queue, the integration running now, the last few.
    pub async fn branch_views(
        &self,
        tips: &HashMap<(String, String), String>,
    ) -> Result<Vec<BranchView>, StateError> {
        let branches: Vec<(String, String)> =
            sqlx::query_as(BRANCHES).fetch_all(&self.pool).await?;
        let mut views = Vec::new();
        for (project, branch) in branches {
            let tip = tips.get(&(project.clone(), branch.clone())).cloned();
            views.push(self.branch_view(project, branch, tip).await?);
        }
        Ok(views)
    }

    /// One branch: its queue, the integration running now, the last few.
    pub async fn branch_view(
        &self,
        project: String,
        branch: String,
        tip: Option<String>,
    ) -> Result<BranchView, StateError> {
        let queue = self.changes(&project, &branch, ChangeState::Staged).await?;
        // A branch runs one integration at a time, so the one that has not ended is the newest.
        let scope = Scope::Branch { project: &project, branch: &branch };
        let mut recent = self.integrations(scope, None, RECENT + 1).await?.items;
        let mut current = None;
        if recent.first().is_some_and(|newest| !newest.state.is_final()) {
            let mut running = recent.remove(0);
            running.work_items = self.work_items(running.id).await?;
            current = Some(running);
        }
        recent.truncate(RECENT as usize);
        Ok(BranchView { tip, missing: false, project, branch, queue, current, recent })
    }

    /// Whether the branch is gated.
    pub async fn is_gated(&self, project: &str, branch: &str) -> Result<bool, StateError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM branches WHERE project = ? AND branch = ?")
                .bind(project)
                .bind(branch)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// The integrations of `rows`, in the same order, with their changes.
    async fn views(&self, rows: &[SqliteRow]) -> Result<Vec<IntegrationView>, StateError> {
        let ids: Vec<i64> = rows.iter().map(|row| row.try_get("id")).collect::<Result<_, _>>()?;
        let mut changes: HashMap<i64, Vec<IntegrationChange>> = HashMap::new();
        if !ids.is_empty() {
            let listed = serde_json::to_string(&ids).expect("ids serialise");
            for row in sqlx::query(CHANGES_OF).bind(listed).fetch_all(&self.pool).await? {
                let merge: Option<String> = row.try_get("merge")?;
                changes.entry(row.try_get("integration")?).or_default().push(IntegrationChange {
                    change: row.try_get("id")?,
                    commit: row.try_get("commit_id")?,
                    subject: row.try_get("subject")?,
                    merge: merge.map(|merge| parse(&merge)).transpose()?,
                    staged_at: row.try_get("staged_at")?,
                });
            }
        }
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let state: String = row.try_get("state")?;
                Ok(IntegrationView {
                    id,
                    project: row.try_get("project")?,
                    branch: row.try_get("branch")?,
                    state: parse(&state)?,
                    base: row.try_get("base")?,
                    commit: row.try_get("commit_id")?,
                    changes: changes.remove(&id).unwrap_or_default(),
                    work_items: Vec::new(),
                    rejection: from_json(row.try_get("rejection")?)?,
                    note: row.try_get("note")?,
                    created_at: row.try_get("created_at")?,
                    finished_at: row.try_get("finished_at")?,
                })
            })
            .collect()
    }
}
