//! The changes not decided yet, which the mirrors must keep.

use crate::{Db, StateError};

/// Read from the partial index of waiting changes (`changes_waiting`), never the decided ones.
pub(crate) const UNDECIDED: &str = "SELECT id FROM changes INDEXED BY changes_waiting
     WHERE project = ? AND state IN ('staged', 'integrating')";

impl Db {
    /// The ids of the project's changes that wait or run (staged, integrating), whatever the
    /// branch, in no order: what a mirror's `refs/tollgate/changes/N` are still needed for.
    pub async fn undecided_changes(&self, project: &str) -> Result<Vec<i64>, StateError> {
        Ok(sqlx::query_scalar(UNDECIDED).bind(project).fetch_all(&self.pool).await?)
    }
}
