//! The changes not decided yet, which the mirrors must keep.

use crate::{Db, StateError};

impl Db {
    /// The ids of the project's changes that wait or run (staged, integrating), whatever the
    /// branch: what a mirror's `refs/tollgate/changes/N` are still needed for.
    pub async fn undecided_changes(&self, project: &str) -> Result<Vec<i64>, StateError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM changes WHERE project = ? AND state IN ('staged', 'integrating')
             ORDER BY id",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await?)
    }
}
