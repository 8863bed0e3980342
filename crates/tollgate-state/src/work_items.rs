//! Work items of an integration: planned, started, finished, retried, recovered.

use serde_json::json;
use sqlx::Row;
use tollgate_api::{
    FailureView, IntegrationState, PlanPins, QuarantinedTest, WorkItemState, WorkItemView,
};

use crate::events::Event;
use crate::integrations::{Formed, set_state};
use crate::leases::{LeaseEnd, end_lease, release_of};
use crate::text::{from_json, name, parse, to_json};
use crate::{Db, StateError, now_ms};

/// A work item as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWorkItem {
    pub item: String,
    pub build_key: String,
    pub significant: bool,
}

/// How a work item ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkItemEnd {
    pub state: WorkItemState,
    pub failure: Option<FailureView>,
    /// The tests that failed while quarantined, when it passed without them.
    pub quarantined: Vec<QuarantinedTest>,
    /// The log in the store.
    pub log_digest: Option<String>,
    /// The lease it ran under; the end is recorded only while that lease is active.
    pub lease: Option<i64>,
}

// Keyed by the primary key (integration, item), or by `work_items_by_item` for a work item's
// newest run: a few rows of one integration, never the work items of history.
/// Work items that were running keep running only under an active lease (of an agent that
/// outlives the controller); the others wait to run again.
pub(crate) const RECOVER: &str = "UPDATE work_items SET state = 'waiting'
     WHERE integration = ? AND state = 'running' AND NOT EXISTS (SELECT 1 FROM leases AS l
        WHERE l.integration = work_items.integration AND l.item = work_items.item
        AND l.state = 'active')
     RETURNING item";
/// An integration's work items; sorted by position after the lookup (a plan's few hundred).
/// The agent of each is its newest lease's, one index lookup per work item.
pub(crate) const ITEMS: &str = "SELECT item, build_key, significant, state, attempts, started_at,
     finished_at, failure, log_path, log_digest, quarantined,
     (SELECT agent FROM leases AS l WHERE l.integration = w.integration AND l.item = w.item
      ORDER BY l.id DESC LIMIT 1) AS agent
     FROM work_items AS w WHERE integration = ? ORDER BY position";
pub(crate) const STATE: &str = "SELECT state FROM work_items WHERE integration = ? AND item = ?";
pub(crate) const LOG_OF: &str =
    "SELECT integration, state, build_key, log_path, log_digest FROM work_items
     WHERE integration = ? AND item = ?";
/// The newest run before an integration that stored a result under a build key.
pub(crate) const RAN_BEFORE: &str = "SELECT integration FROM work_items
     WHERE build_key = ? AND state IN ('passed', 'failed') AND integration < ?
     ORDER BY integration DESC LIMIT 1";
pub(crate) const NEWEST_LOG_OF: &str = "SELECT integration, state, build_key, log_path, log_digest
     FROM work_items WHERE item = ? ORDER BY integration DESC LIMIT 1";

impl Db {
    /// The plan's work items, all waiting, and the pins it was made from; the integration
    /// runs. Planning again after a restart keeps the work items already there, with their
    /// states, and the pins of the plan made last.
    pub async fn planned(
        &self,
        integration: &Formed,
        items: &[NewWorkItem],
        pins: &PlanPins,
    ) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE integrations SET pins = ? WHERE id = ?")
            .bind(to_json(pins))
            .bind(integration.id)
            .execute(&mut *tx)
            .await?;
        for (position, item) in items.iter().enumerate() {
            sqlx::query(
                "INSERT OR IGNORE INTO work_items (integration, position, item, build_key, significant, state)
                 VALUES (?, ?, ?, ?, ?, 'waiting')",
            )
            .bind(integration.id)
            .bind(position as i64)
            .bind(&item.item)
            .bind(&item.build_key)
            .bind(item.significant)
            .execute(&mut *tx)
            .await?;
        }
        if integration.state == IntegrationState::Forming {
            set_state(
                &mut tx,
                integration.id,
                IntegrationState::Forming,
                IntegrationState::Running,
            )
            .await?;
            let detail = json!({ "work_items": items.len() });
            Event::of(integration, "planned", detail).append(&mut tx).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// The work item is leased to `agent` and about to run there; its log grows at
    /// `log_path`. Returns the lease: its id is the fencing token its report must carry.
    pub async fn item_started(
        &self,
        integration: &Formed,
        item: &str,
        log_path: &str,
        agent: &str,
    ) -> Result<i64, StateError> {
        let mut tx = self.writer.begin().await?;
        let now = now_ms();
        sqlx::query(
            "UPDATE work_items SET state = 'running', attempts = attempts + 1, started_at = ?,
             finished_at = NULL, failure = NULL, quarantined = NULL, log_path = ?, log_digest = NULL
             WHERE integration = ? AND item = ?",
        )
        .bind(now)
        .bind(log_path)
        .bind(integration.id)
        .bind(item)
        .execute(&mut *tx)
        .await?;
        let lease: i64 = sqlx::query_scalar(
            "INSERT INTO leases (integration, item, agent, state, issued_at)
             VALUES (?, ?, ?, 'active', ?) RETURNING id",
        )
        .bind(integration.id)
        .bind(item)
        .bind(agent)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let detail = json!({ "log": log_path, "agent": agent, "lease": lease });
        Event { work_item: Some(item), ..Event::of(integration, "work_item_started", detail) }
            .append(&mut tx)
            .await?;
        self.commit(tx).await?;
        Ok(lease)
    }

    /// The work item ended: run, reused, skipped or cancelled.
    pub async fn item_finished(
        &self,
        integration: &Formed,
        item: &str,
        end: &WorkItemEnd,
    ) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        let now = now_ms();
        if let Some(lease) = end.lease {
            end_lease(&mut tx, lease, "reported", now).await?;
        }
        sqlx::query(
            "UPDATE work_items SET state = ?, started_at = COALESCE(started_at, ?), finished_at = ?,
             failure = ?, quarantined = ?, log_digest = COALESCE(?, log_digest)
             WHERE integration = ? AND item = ?",
        )
        .bind(name(&end.state))
        .bind(now)
        .bind(now)
        .bind(end.failure.as_ref().map(to_json))
        .bind((!end.quarantined.is_empty()).then(|| to_json(&end.quarantined)))
        .bind(&end.log_digest)
        .bind(integration.id)
        .bind(item)
        .execute(&mut *tx)
        .await?;
        let kind = match end.state {
            WorkItemState::Reused => "work_item_reused",
            _ => "work_item_finished",
        };
        let mut detail =
            json!({ "state": end.state, "failure": end.failure, "log": end.log_digest });
        if !end.quarantined.is_empty() {
            detail["quarantined"] = json!(end.quarantined);
        }
        Event { work_item: Some(item), ..Event::of(integration, kind, detail) }
            .append(&mut tx)
            .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// The work item errored and runs again later.
    pub async fn item_retried(
        &self,
        integration: &Formed,
        item: &str,
        error: &str,
        delay_ms: u64,
        lease: Option<(i64, LeaseEnd)>,
    ) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        if let Some((lease, how)) = lease {
            end_lease(&mut tx, lease, how.as_str(), now_ms()).await?;
        }
        sqlx::query("UPDATE work_items SET state = 'waiting' WHERE integration = ? AND item = ?")
            .bind(integration.id)
            .bind(item)
            .execute(&mut *tx)
            .await?;
        let detail = json!({ "error": error, "retry_in_ms": delay_ms });
        Event { work_item: Some(item), ..Event::of(integration, "work_item_retried", detail) }
            .append(&mut tx)
            .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// A significant test failed (or passed a re-run): it runs again on a fresh machine, re-run
    /// `rerun` of `of`, to tell a flaky test from a broken one. Its run under `lease` is over.
    /// `first` (how it failed first, the tests that failed) goes into the log, from which a
    /// restarted controller takes the re-runs up again.
    pub async fn item_rerun(
        &self,
        integration: &Formed,
        item: &str,
        (rerun, of): (u32, u32),
        first: serde_json::Value,
        lease: Option<i64>,
    ) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        if let Some(lease) = lease {
            end_lease(&mut tx, lease, "reported", now_ms()).await?;
        }
        sqlx::query("UPDATE work_items SET state = 'waiting' WHERE integration = ? AND item = ?")
            .bind(integration.id)
            .bind(item)
            .execute(&mut *tx)
            .await?;
        let detail = json!({ "rerun": rerun, "of": of, "first": first });
        Event { work_item: Some(item), ..Event::of(integration, "work_item_rerun", detail) }
            .append(&mut tx)
            .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// An entry in the decision log about one work item of an integration.
    pub async fn item_event(
        &self,
        integration: &Formed,
        item: &str,
        kind: &str,
        detail: serde_json::Value,
    ) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        Event { work_item: Some(item), ..Event::of(integration, kind, detail) }
            .append(&mut tx)
            .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// After a restart: the runs of `local_agent` (this machine's, stopped with the previous
    /// controller) did not finish; those work items wait to run again. Work items leased to
    /// other agents stay running: their agents report when they reconnect.
    pub async fn recover_items(
        &self,
        integration: &Formed,
        local_agent: &str,
    ) -> Result<Vec<String>, StateError> {
        let mut tx = self.writer.begin().await?;
        release_of(&mut tx, integration.id, local_agent).await?;
        let items: Vec<String> =
            sqlx::query_scalar(RECOVER).bind(integration.id).fetch_all(&mut *tx).await?;
        let detail = json!({ "state": integration.state, "run_again": items });
        Event::of(integration, "recovered", detail).append(&mut tx).await?;
        self.commit(tx).await?;
        Ok(items)
    }

    /// The work items of an integration, in plan order.
    pub async fn work_items(&self, integration: i64) -> Result<Vec<WorkItemView>, StateError> {
        let rows = sqlx::query(ITEMS).bind(integration).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let item: String = row.try_get("item")?;
                let state: String = row.try_get("state")?;
                let path: Option<String> = row.try_get("log_path")?;
                let digest: Option<String> = row.try_get("log_digest")?;
                let failure: Option<FailureView> = from_json(row.try_get("failure")?)?;
                let attempts: i64 = row.try_get("attempts")?;
                Ok(WorkItemView {
                    log: (path.is_some() || digest.is_some()).then(|| log_link(integration, &item)),
                    id: item,
                    build_key: row.try_get("build_key")?,
                    significant: row.try_get("significant")?,
                    state: parse(&state)?,
                    attempts: attempts as u32,
                    started_at: row.try_get("started_at")?,
                    finished_at: row.try_get("finished_at")?,
                    failure,
                    agent: row.try_get("agent")?,
                    waiting: None,
                    quarantined: from_json(row.try_get("quarantined")?)?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Where a work item's log is: the file while it grows, the store's blob once stored.
    /// Without `integration`, the newest integration that has the work item.
    pub async fn log_of(
        &self,
        integration: Option<i64>,
        item: &str,
    ) -> Result<Option<LogSource>, StateError> {
        let query = match integration {
            Some(integration) => sqlx::query(LOG_OF).bind(integration).bind(item),
            None => sqlx::query(NEWEST_LOG_OF).bind(item),
        };
        let row = query.fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let state: String = row.try_get("state")?;
        Ok(Some(LogSource {
            integration: row.try_get("integration")?,
            build_key: row.try_get("build_key")?,
            state: parse(&state)?,
            path: row.try_get("log_path")?,
            digest: row.try_get("log_digest")?,
        }))
    }

    /// The integration whose run stored the result a later one reused: the newest run of the
    /// build key before `integration`.
    pub async fn ran_before(
        &self,
        build_key: &str,
        integration: i64,
    ) -> Result<Option<i64>, StateError> {
        let found = sqlx::query_scalar(RAN_BEFORE).bind(build_key).bind(integration);
        Ok(found.fetch_optional(&self.pool).await?)
    }

    /// Whether a work item is still waiting or running.
    pub async fn item_state(
        &self,
        integration: i64,
        item: &str,
    ) -> Result<Option<WorkItemState>, StateError> {
        let state: Option<String> = sqlx::query_scalar(STATE)
            .bind(integration)
            .bind(item)
            .fetch_optional(&self.pool)
            .await?;
        state.map(|state| parse(&state)).transpose()
    }
}

/// Where to read a work item's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSource {
    pub integration: i64,
    pub state: WorkItemState,
    pub build_key: String,
    pub path: Option<String>,
    pub digest: Option<String>,
}

/// The API path of a work item's log.
pub fn log_link(integration: i64, item: &str) -> String {
    tollgate_api::routes::log(integration, item)
}
