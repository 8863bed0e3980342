//! A branch's pace: what waits in its queue, and how long its last verdicts took. The metrics
//! and the stall alarm read it at every scrape, so both reads are bounded: the queue through
//! the branch's index, and a few verdicts newest first.

use crate::{Db, StateError};

/// The changes that wait (staged) or run (integrating) on a branch.
pub(crate) const QUEUE: &str = "SELECT COALESCE(SUM(state = 'staged'), 0), COUNT(*), MIN(staged_at)
     FROM changes WHERE project = ? AND branch = ? AND state IN ('staged', 'integrating')";
/// The branch's newest integrations that reached a verdict, newest first: the index's order,
/// no sort.
pub(crate) const VERDICTS: &str = "SELECT created_at, finished_at FROM integrations
     WHERE project = ? AND branch = ? AND state IN ('merged', 'rejected') AND finished_at IS NOT NULL
     ORDER BY id DESC LIMIT ?";

/// A branch's queue and its recent verdicts. Times are milliseconds since the Unix epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pace {
    /// Changes staged, waiting for an integration.
    pub staged: u64,
    /// Changes not decided yet: staged, or in the integration that runs.
    pub undecided: u64,
    /// When the oldest undecided change was staged.
    pub waiting_since: Option<i64>,
    /// The newest integrations that merged or rejected, newest first.
    pub verdicts: Vec<Verdict>,
}

/// An integration that reached a verdict: when it was formed, when it was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub formed_at: i64,
    pub decided_at: i64,
}

impl Db {
    /// The branch's queue, and its last `verdicts` integrations that merged or rejected.
    pub async fn pace(
        &self,
        project: &str,
        branch: &str,
        verdicts: i64,
    ) -> Result<Pace, StateError> {
        let (staged, undecided, waiting_since): (i64, i64, Option<i64>) =
            sqlx::query_as(QUEUE).bind(project).bind(branch).fetch_one(&self.pool).await?;
        let rows: Vec<(i64, i64)> = sqlx::query_as(VERDICTS)
            .bind(project)
            .bind(branch)
            .bind(verdicts)
            .fetch_all(&self.pool)
            .await?;
        Ok(Pace {
            staged: staged.max(0) as u64,
            undecided: undecided.max(0) as u64,
            waiting_since,
            verdicts: rows
                .into_iter()
                .map(|(formed_at, decided_at)| Verdict { formed_at, decided_at })
                .collect(),
        })
    }
}
