//! Projects and the branches they gate.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tollgate_api::{ProjectSpec, ProjectView};

use serde_json::json;

use crate::{Db, StateError, now_ms};

/// The changes staged on a branch, with their commits.
pub(crate) const STAGED_ON: &str =
    "SELECT id, commit_id FROM changes WHERE project = ? AND branch = ? AND state = 'staged'";

impl Db {
    /// Adds the project, or replaces its URL, product and branches.
    pub async fn upsert_project(&self, spec: &ProjectSpec) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO projects (name, url, product) VALUES (?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET url = excluded.url, product = excluded.product",
        )
        .bind(&spec.name)
        .bind(&spec.url)
        .bind(&spec.product)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM branches WHERE project = ?")
            .bind(&spec.name)
            .execute(&mut *tx)
            .await?;
        for branch in &spec.branches {
            sqlx::query("INSERT OR IGNORE INTO branches (project, branch) VALUES (?, ?)")
                .bind(&spec.name)
                .bind(branch)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    pub async fn projects(&self) -> Result<Vec<ProjectView>, StateError> {
        let rows = sqlx::query(
            "SELECT name, url, product, fetched_at, fetch_error FROM projects ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut projects = Vec::new();
        for row in rows {
            projects.push(self.project_view(&row).await?);
        }
        Ok(projects)
    }

    pub async fn project(&self, name: &str) -> Result<Option<ProjectView>, StateError> {
        let row = sqlx::query(
            "SELECT name, url, product, fetched_at, fetch_error FROM projects WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.project_view(&row).await?)),
            None => Ok(None),
        }
    }

    /// A `projects` row with its branches.
    async fn project_view(&self, row: &SqliteRow) -> Result<ProjectView, StateError> {
        let name: String = row.try_get("name")?;
        let branches =
            sqlx::query_scalar("SELECT branch FROM branches WHERE project = ? ORDER BY branch")
                .bind(&name)
                .fetch_all(&self.pool)
                .await?;
        Ok(ProjectView {
            spec: ProjectSpec {
                name,
                url: row.try_get("url")?,
                branches,
                product: row.try_get("product")?,
            },
            fetched_at: row.try_get("fetched_at")?,
            fetch_error: row.try_get("fetch_error")?,
        })
    }

    /// Stops gating `branches` of the project (every one when `None`, and then the project is
    /// forgotten; its history stays). Refused while one of them runs an integration. The
    /// changes staged there are unstaged, each with an entry in the log; answers their ids.
    pub async fn remove_branches(
        &self,
        project: &str,
        branches: Option<&[String]>,
    ) -> Result<Vec<i64>, StateError> {
        let mut tx = self.writer.begin().await?;
        let gated: Vec<String> =
            sqlx::query_scalar("SELECT branch FROM branches WHERE project = ? ORDER BY branch")
                .bind(project)
                .fetch_all(&mut *tx)
                .await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM projects WHERE name = ?")
            .bind(project)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StateError::NotFound(format!("no project `{project}`")));
        }
        let removed: Vec<String> = match branches {
            None => gated.clone(),
            Some(named) => {
                if let Some(other) = named.iter().find(|b| !gated.contains(b)) {
                    return Err(StateError::NotFound(format!(
                        "{project} does not gate branch `{other}`; it gates: {}",
                        if gated.is_empty() { "none".to_owned() } else { gated.join(", ") }
                    )));
                }
                named.to_vec()
            }
        };
        let mut unstaged = Vec::new();
        for branch in &removed {
            let running: Option<i64> = sqlx::query_scalar(crate::integrations::UNFINISHED_ON)
                .bind(project)
                .bind(branch)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(integration) = running {
                return Err(StateError::Conflict(format!(
                    "integration {integration} of {project} {branch} is running; `tollgate cancel {integration}` first"
                )));
            }
            let staged: Vec<(i64, String)> =
                sqlx::query_as(STAGED_ON).bind(project).bind(branch).fetch_all(&mut *tx).await?;
            for (id, commit) in staged {
                let detail = json!({ "commit": commit, "why": "the branch is not gated any more" });
                crate::changes::set_unstaged(&mut tx, project, branch, id, detail).await?;
                unstaged.push(id);
            }
            sqlx::query("DELETE FROM branches WHERE project = ? AND branch = ?")
                .bind(project)
                .bind(branch)
                .execute(&mut *tx)
                .await?;
        }
        if branches.is_none() {
            for table in [
                "DELETE FROM staging_refs WHERE project = ?",
                "DELETE FROM projects WHERE name = ?",
            ] {
                sqlx::query(table).bind(project).execute(&mut *tx).await?;
            }
        }
        self.commit(tx).await?;
        Ok(unstaged)
    }

    /// Records a fetch of the project's mirror, and its error if it failed.
    pub async fn set_fetched(&self, name: &str, error: Option<&str>) -> Result<(), StateError> {
        sqlx::query("UPDATE projects SET fetched_at = ?, fetch_error = ? WHERE name = ?")
            .bind(now_ms())
            .bind(error)
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
