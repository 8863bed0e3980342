//! Projects and the branches they gate.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tollgate_api::{ProjectSpec, ProjectView};

use crate::{Db, StateError, now_ms};

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
        tx.commit().await?;
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
