//! Reads for the API: integrations and branches as the wire types show them.

use sqlx::Row;
use tollgate_api::{BranchView, ChangeState, IntegrationChange, IntegrationView};

use crate::text::{from_json, parse};
use crate::{Db, StateError};

const RECENT: i64 = 5;

impl Db {
    /// One integration; with its work items when `items`.
    pub async fn integration_view(
        &self,
        id: i64,
        items: bool,
    ) -> Result<Option<IntegrationView>, StateError> {
        let row = sqlx::query(
            "SELECT id, project, branch, state, base, commit_id, rejection, note, created_at, finished_at
             FROM integrations WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let changes = sqlx::query(
            "SELECT c.id, c.commit_id, c.subject, ic.merge FROM integration_changes ic
             JOIN changes c ON c.id = ic.change WHERE ic.integration = ? ORDER BY ic.position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            let merge: Option<String> = row.try_get("merge")?;
            Ok(IntegrationChange {
                change: row.try_get("id")?,
                commit: row.try_get("commit_id")?,
                subject: row.try_get("subject")?,
                merge: merge.map(|merge| parse(&merge)).transpose()?,
            })
        })
        .collect::<Result<_, StateError>>()?;
        let state: String = row.try_get("state")?;
        Ok(Some(IntegrationView {
            id,
            project: row.try_get("project")?,
            branch: row.try_get("branch")?,
            state: parse(&state)?,
            base: row.try_get("base")?,
            commit: row.try_get("commit_id")?,
            changes,
            work_items: match items {
                true => self.work_items(id).await?,
                false => Vec::new(),
            },
            rejection: from_json(row.try_get("rejection")?)?,
            note: row.try_get("note")?,
            created_at: row.try_get("created_at")?,
            finished_at: row.try_get("finished_at")?,
        }))
    }

    /// Integrations, newest first, optionally of one project and branch.
    pub async fn integrations(
        &self,
        project: Option<&str>,
        branch: Option<&str>,
        limit: i64,
    ) -> Result<Vec<IntegrationView>, StateError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM integrations WHERE (? IS NULL OR project = ?) AND (? IS NULL OR branch = ?)
             ORDER BY id DESC LIMIT ?",
        )
        .bind(project)
        .bind(project)
        .bind(branch)
        .bind(branch)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut views = Vec::new();
        for id in ids {
            views.extend(self.integration_view(id, false).await?);
        }
        Ok(views)
    }

    /// Every gated branch: its queue, the integration running now, the last few.
    pub async fn branch_views(
        &self,
        tips: &std::collections::HashMap<(String, String), String>,
    ) -> Result<Vec<BranchView>, StateError> {
        let branches: Vec<(String, String)> =
            sqlx::query_as("SELECT project, branch FROM branches ORDER BY project, branch")
                .fetch_all(&self.pool)
                .await?;
        let mut views = Vec::new();
        for (project, branch) in branches {
            let queue = self.changes(&project, &branch, ChangeState::Staged).await?;
            let mut current = None;
            let mut recent = Vec::new();
            for integration in self.integrations(Some(&project), Some(&branch), RECENT + 1).await? {
                if !integration.state.is_final() && current.is_none() {
                    current = self.integration_view(integration.id, true).await?;
                } else if recent.len() < RECENT as usize {
                    recent.push(integration);
                }
            }
            views.push(BranchView {
                tip: tips.get(&(project.clone(), branch.clone())).cloned(),
                project,
                branch,
                queue,
                current,
                recent,
            });
        }
        Ok(views)
    }
}
