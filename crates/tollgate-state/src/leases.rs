//! Leases: every run of a work item is leased to an agent, and its id fences the report.
//!
//! A lease is `active` from the start of the run until it ends: `reported` (the run's end was
//! recorded under it), `expired` (its agent stopped heartbeating: the work item runs again
//! elsewhere) or `released` (it ended without a report: cancelled, or the controller that
//! issued a local one stopped). Only an active lease takes a report, so a run whose lease was
//! taken away can never overwrite a newer one or record the work item twice.

use sqlx::{Row, Sqlite, Transaction};

use crate::{Db, StateError, now_ms};

/// How a lease ended without a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    /// The agent was lost: no heartbeat within the lease.
    Expired,
    /// The run ended without a report (cancelled, or the system failed around it).
    Released,
}

impl LeaseEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseEnd::Expired => "expired",
            LeaseEnd::Released => "released",
        }
    }
}

/// An active lease, as a restarted controller finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveLease {
    pub id: i64,
    pub integration: i64,
    pub item: String,
    pub agent: String,
    /// The work item's, for the report's record.
    pub build_key: String,
    /// Where the run's log is written as the agent sends it.
    pub log_path: Option<String>,
}

/// The leases still active: a few per agent whatever the history (a partial index).
pub(crate) const ACTIVE: &str = "SELECT l.id, l.integration, l.item, l.agent, w.build_key,
     w.log_path FROM leases AS l INDEXED BY leases_active
     JOIN work_items AS w ON w.integration = l.integration AND w.item = l.item
     WHERE l.state = 'active'";
/// An integration's active leases of one agent.
pub(crate) const RELEASE_OF: &str = "UPDATE leases SET state = 'released', ended_at = ?
     WHERE integration = ? AND agent = ? AND state = 'active'";

impl Db {
    /// Every active lease, for a restarted controller to take up again.
    pub async fn active_leases(&self) -> Result<Vec<ActiveLease>, StateError> {
        let rows = sqlx::query(ACTIVE).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(ActiveLease {
                    id: row.try_get("id")?,
                    integration: row.try_get("integration")?,
                    item: row.try_get("item")?,
                    agent: row.try_get("agent")?,
                    build_key: row.try_get("build_key")?,
                    log_path: row.try_get("log_path")?,
                })
            })
            .collect()
    }

    /// Ends an active lease without a report. False when it was not active any more.
    pub async fn end_lease(&self, lease: i64, how: LeaseEnd) -> Result<bool, StateError> {
        let mut tx = self.writer.begin().await?;
        match end_lease(&mut tx, lease, how.as_str(), now_ms()).await {
            Ok(()) => {
                self.commit(tx).await?;
                Ok(true)
            }
            Err(StateError::Conflict(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// Ends an active lease as `state`; a [`StateError::Conflict`] when it is not active, which
/// rolls back whatever the transaction was to record under it.
pub(crate) async fn end_lease(
    tx: &mut Transaction<'_, Sqlite>,
    lease: i64,
    state: &str,
    now: i64,
) -> Result<(), StateError> {
    let ended =
        sqlx::query("UPDATE leases SET state = ?, ended_at = ? WHERE id = ? AND state = 'active'")
            .bind(state)
            .bind(now)
            .bind(lease)
            .execute(&mut **tx)
            .await?;
    match ended.rows_affected() {
        1 => Ok(()),
        _ => Err(StateError::Conflict(format!(
            "lease {lease} is not active any more: the work item was given to another run"
        ))),
    }
}

/// Releases the active leases `agent` holds in `integration`.
pub(crate) async fn release_of(
    tx: &mut Transaction<'_, Sqlite>,
    integration: i64,
    agent: &str,
) -> Result<(), StateError> {
    sqlx::query(RELEASE_OF).bind(now_ms()).bind(integration).bind(agent).execute(&mut **tx).await?;
    Ok(())
}
