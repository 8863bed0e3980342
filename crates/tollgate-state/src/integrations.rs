//! An integration's transitions, each one transaction with its decision-log entry.

use serde_json::json;
use sqlx::SqliteConnection;
use tollgate_api::{IntegrationState, MergeResult, PlanPins, Rejection};

use crate::events::Event;
use crate::text::{from_json, name, to_json};
use crate::{Db, StateError, now_ms};

/// What the controller needs of an integration to go on with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Formed {
    pub id: i64,
    pub project: String,
    pub branch: String,
    pub state: IntegrationState,
    pub base: String,
    pub commit: Option<String>,
    pub created_at: i64,
    /// (change id, commit), in staging order, the conflicting ones included.
    pub changes: Vec<(i64, String)>,
}

/// Whether a change (its author, when it was staged in ms) still waits.
pub type Holds<'a> = dyn Fn(&str, i64) -> bool + Sync + 'a;

/// What a new integration may take from the front of its branch's queue.
#[derive(Clone, Copy)]
pub struct Take<'a> {
    /// The most changes.
    pub max_batch: u32,
    /// The integrations the branch may still start: the queue is split over them.
    pub ways: u32,
    /// Whether a change (its author, when it was staged) still waits, as a bot's cherry-picks
    /// wait to accumulate; the queue stops at the first that does.
    pub holds: Option<&'a Holds<'a>>,
}

impl Take<'_> {
    /// One integration at a time, at most `max_batch` changes, nothing held.
    pub fn batch(max_batch: u32) -> Take<'static> {
        Take { max_batch, ways: 1, holds: None }
    }
}

/// How one change went onto the tip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    FastForward,
    Merged,
    Conflict(Vec<String>),
    Unrelated,
}

/// Read from the partial index of unfinished integrations, which holds a branch's chain (one,
/// or its depth when it speculates): neither a restart nor a branch's task reads the finished
/// ones.
pub(crate) const UNFINISHED: &str = "SELECT id FROM integrations INDEXED BY integrations_unfinished
     WHERE state IN ('forming', 'running', 'pushing') ORDER BY id";
pub(crate) const UNFINISHED_ON: &str =
    "SELECT id FROM integrations INDEXED BY integrations_unfinished
     WHERE project = ? AND branch = ? AND state IN ('forming', 'running', 'pushing') ORDER BY id";

/// A project's newest rejected integrations, from their partial index.
pub(crate) const NEWEST_REJECTED: &str =
    "SELECT id FROM integrations INDEXED BY integrations_rejected
     WHERE project = ? AND state = 'rejected' ORDER BY id DESC LIMIT ?";

/// The front of the branch's queue, taken into an integration: at most a number of changes,
/// none newer than a change.
pub(crate) const STAGED: &str = "SELECT id, commit_id, author, staged_at FROM changes
     WHERE project = ? AND branch = ? AND state = 'staged' AND id <= ? ORDER BY id LIMIT ?";
/// How many of the branch's changes up to one are staged, and how many are integrating.
pub(crate) const QUEUED_UP_TO: &str = "SELECT
     COALESCE(SUM(state = 'staged'), 0), COALESCE(SUM(state = 'integrating'), 0) FROM changes
     WHERE project = ? AND branch = ? AND state IN ('staged', 'integrating') AND id <= ?";
/// The changes an integration still holds: those it did not reject for a conflict.
pub(crate) const INTEGRATING: &str =
    "SELECT id FROM changes WHERE integration = ? AND state = 'integrating' ORDER BY id";
// An integration's changes and work items, found by the integration.
pub(crate) const REJECT_CHANGES: &str = "UPDATE changes SET state = 'rejected', rejection = ?
     WHERE integration = ? AND state = 'integrating'";
pub(crate) const MERGE_CHANGES: &str =
    "UPDATE changes SET state = 'merged' WHERE integration = ? AND state = 'integrating'";
pub(crate) const GIVE_BACK_CHANGES: &str =
    "UPDATE changes SET state = 'staged' WHERE integration = ? AND state = 'integrating'";
pub(crate) const CANCEL_ITEMS: &str = "UPDATE work_items SET state = 'cancelled', finished_at = ?
     WHERE integration = ? AND state IN ('waiting', 'running')";

impl Db {
    /// Takes the front of the branch's queue, in staging order, into a new integration on
    /// `base`: the tip, or the commit of the integration ahead of it when the branch
    /// speculates. It takes at most `max_batch` changes, and its share when the queue is split
    /// `ways` (the integrations the branch may still start), so that the whole depth is used.
    /// While a failed batch is bisected, only the part of it the bisection tries next, and
    /// nothing behind the batch. `None` when nothing may be taken.
    pub async fn form(
        &self,
        project: &str,
        branch: &str,
        base: &str,
        take: Take<'_>,
    ) -> Result<Option<Formed>, StateError> {
        let Take { max_batch, ways, holds } = take;
        let mut tx = self.writer.begin().await?;
        let bisect: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT bisect_end, bisect_limit FROM branches WHERE project = ? AND branch = ?",
        )
        .bind(project)
        .bind(branch)
        .fetch_optional(&mut *tx)
        .await?;
        let (mut end, mut limit) = bisect.unwrap_or_default();
        let queued_up_to = |last: i64| {
            sqlx::query_as::<_, (i64, i64)>(QUEUED_UP_TO).bind(project).bind(branch).bind(last)
        };
        let (mut queued, integrating) =
            queued_up_to(end.unwrap_or(i64::MAX)).fetch_one(&mut *tx).await?;
        if end.is_some() && queued == 0 {
            if integrating > 0 {
                // The rest of the failed batch is being integrated: what is behind it waits.
                self.commit(tx).await?;
                return Ok(None);
            }
            // The failed batch is all decided: the bisection is over.
            clear_bisection(&mut tx, project, branch).await?;
            (end, limit) = (None, None);
            (queued, _) = queued_up_to(i64::MAX).fetch_one(&mut *tx).await?;
        }
        let up_to = end.unwrap_or(i64::MAX);
        let ways = i64::from(ways.max(1));
        let share = (queued + ways - 1) / ways;
        let most = limit.unwrap_or(i64::MAX).min(i64::from(max_batch.max(1))).min(share.max(1));
        let front: Vec<(i64, String, String, i64)> = sqlx::query_as(STAGED)
            .bind(project)
            .bind(branch)
            .bind(up_to)
            .bind(most)
            .fetch_all(&mut *tx)
            .await?;
        // The queue keeps its order: it stops at the first change still held.
        let changes: Vec<(i64, String)> = front
            .into_iter()
            .take_while(|(_, _, author, staged_at)| !holds.is_some_and(|h| h(author, *staged_at)))
            .map(|(id, commit, _, _)| (id, commit))
            .collect();
        if changes.is_empty() {
            self.commit(tx).await?;
            return Ok(None);
        }
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO integrations (project, branch, state, base, created_at)
             VALUES (?, ?, 'forming', ?, ?) RETURNING id",
        )
        .bind(project)
        .bind(branch)
        .bind(base)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for (position, (change, _)) in changes.iter().enumerate() {
            sqlx::query(
                "INSERT INTO integration_changes (integration, change, position) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(change)
            .bind(position as i64)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE changes SET state = 'integrating', integration = ? WHERE id = ?")
                .bind(id)
                .bind(change)
                .execute(&mut *tx)
                .await?;
        }
        let listed: Vec<_> =
            changes.iter().map(|(id, commit)| json!({ "change": id, "commit": commit })).collect();
        let integration = Formed {
            id,
            project: project.to_owned(),
            branch: branch.to_owned(),
            state: IntegrationState::Forming,
            base: base.to_owned(),
            commit: None,
            created_at: now,
            changes,
        };
        let detail = json!({ "base": base, "changes": listed });
        Event::of(&integration, "integration_started", detail).append(&mut tx).await?;
        self.commit(tx).await?;
        Ok(Some(integration))
    }

    /// Records how each change merged and the integration commit. Conflicting changes are
    /// rejected on their own. Without a commit (every change conflicted) the integration ends.
    pub async fn formed(
        &self,
        integration: &Formed,
        merges: &[(i64, MergeOutcome)],
        commit: Option<&str>,
    ) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        let id = integration.id;
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM integrations WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if state.as_deref() != Some("forming") {
            return Err(ended_meanwhile(id));
        }
        for (change, outcome) in merges {
            let (result, rejection) = match outcome {
                MergeOutcome::FastForward => (MergeResult::FastForward, None),
                MergeOutcome::Merged => (MergeResult::Merged, None),
                MergeOutcome::Conflict(paths) => {
                    (MergeResult::Conflict, Some(Rejection::Conflict { paths: paths.clone() }))
                }
                MergeOutcome::Unrelated => (MergeResult::Conflict, Some(Rejection::Unrelated)),
            };
            sqlx::query(
                "UPDATE integration_changes SET merge = ? WHERE integration = ? AND change = ?",
            )
            .bind(name(&result))
            .bind(id)
            .bind(change)
            .execute(&mut *tx)
            .await?;
            if let Some(rejection) = rejection {
                sqlx::query("UPDATE changes SET state = 'rejected', rejection = ? WHERE id = ?")
                    .bind(to_json(&rejection))
                    .bind(change)
                    .execute(&mut *tx)
                    .await?;
                let detail = serde_json::to_value(&rejection).unwrap_or_default();
                Event {
                    change: Some(*change),
                    ..Event::of(integration, "change_conflicted", detail)
                }
                .append(&mut tx)
                .await?;
            }
        }
        match commit {
            Some(commit) => {
                sqlx::query("UPDATE integrations SET commit_id = ? WHERE id = ?")
                    .bind(commit)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let detail = json!({ "base": integration.base, "commit": commit });
                Event::of(integration, "integration_formed", detail).append(&mut tx).await?;
            }
            None => {
                finish(
                    &mut tx,
                    integration,
                    IntegrationState::Rejected,
                    Some("every change conflicted"),
                )
                .await?;
            }
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// The plan has errors: every change of the batch is rejected with its diagnostics.
    /// The gate rejected the integration. A batch of one change is rejected; a batch of several
    /// is bisected instead: its changes are staged again, and the next integrations take
    /// half of them at a time, until the change that fails alone (on the ones ahead of it)
    /// is found and rejected (bors-ng's rule).
    pub async fn reject(
        &self,
        integration: &Formed,
        rejection: &Rejection,
    ) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE integrations SET rejection = ? WHERE id = ?")
            .bind(to_json(rejection))
            .bind(integration.id)
            .execute(&mut *tx)
            .await?;
        let batch: Vec<i64> =
            sqlx::query_scalar(INTEGRATING).bind(integration.id).fetch_all(&mut *tx).await?;
        if batch.len() > 1 {
            let next = batch.len().div_ceil(2);
            sqlx::query(GIVE_BACK_CHANGES).bind(integration.id).execute(&mut *tx).await?;
            sqlx::query(
                "UPDATE branches SET bisect_end = COALESCE(bisect_end, ?), bisect_limit = ?
                 WHERE project = ? AND branch = ?",
            )
            .bind(batch.last())
            .bind(next as i64)
            .bind(&integration.project)
            .bind(&integration.branch)
            .execute(&mut *tx)
            .await?;
            let detail = json!({
                "decision": "bisect", "rejection": rejection, "changes": batch, "next": next,
            });
            Event::of(integration, "gate_decided", detail).append(&mut tx).await?;
            let note = format!(
                "the batch of {} changes failed; they are staged again and bisected: the next integration takes the first {next}",
                batch.len()
            );
            finish(&mut tx, integration, IntegrationState::Rejected, Some(&note)).await?;
            end_behind(&mut tx, integration).await?;
            self.commit(tx).await?;
            return Ok(());
        }
        clear_bisection(&mut tx, &integration.project, &integration.branch).await?;
        sqlx::query(REJECT_CHANGES)
            .bind(to_json(rejection))
            .bind(integration.id)
            .execute(&mut *tx)
            .await?;
        let detail = json!({ "decision": "reject", "rejection": rejection });
        Event::of(integration, "gate_decided", detail).append(&mut tx).await?;
        finish(&mut tx, integration, IntegrationState::Rejected, None).await?;
        end_behind(&mut tx, integration).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Every significant work item passed: the push is about to be tried.
    pub async fn decide_merge(&self, integration: &Formed) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        set_state(&mut tx, integration.id, IntegrationState::Running, IntegrationState::Pushing)
            .await?;
        let detail = json!({ "decision": "merge", "commit": integration.commit });
        Event::of(integration, "gate_decided", detail).append(&mut tx).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// The branch is at the integration commit: the changes are merged.
    pub async fn merged(&self, integration: &Formed, detail: &str) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(MERGE_CHANGES).bind(integration.id).execute(&mut *tx).await?;
        let event_detail =
            json!({ "result": "pushed", "commit": integration.commit, "how": detail });
        Event::of(integration, "pushed", event_detail).append(&mut tx).await?;
        finish(&mut tx, integration, IntegrationState::Merged, None).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Ends the integration without merging or rejecting: superseded (the branch moved),
    /// errored (the system failed), cancelled. Its changes go back to staged, where they keep
    /// their place in the queue.
    pub async fn give_back(
        &self,
        integration: &Formed,
        state: IntegrationState,
        note: &str,
    ) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(GIVE_BACK_CHANGES).bind(integration.id).execute(&mut *tx).await?;
        sqlx::query(CANCEL_ITEMS).bind(now_ms()).bind(integration.id).execute(&mut *tx).await?;
        finish(&mut tx, integration, state, Some(note)).await?;
        end_behind(&mut tx, integration).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// The integration as the controller needs it.
    pub async fn integration(&self, id: i64) -> Result<Option<Formed>, StateError> {
        let view = self.integration_view(id, false).await?;
        Ok(view.map(|view| Formed {
            id,
            changes: view.changes.iter().map(|c| (c.change, c.commit.clone())).collect(),
            project: view.project,
            branch: view.branch,
            state: view.state,
            base: view.base,
            commit: view.commit,
            created_at: view.created_at,
        }))
    }

    /// The pins the integration was planned with; `None` when it never was (its merge
    /// conflicted, or a tollgate from before pins were kept planned it).
    pub async fn pins(&self, id: i64) -> Result<Option<PlanPins>, StateError> {
        let pins: Option<Option<String>> =
            sqlx::query_scalar("SELECT pins FROM integrations WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        from_json(pins.flatten())
    }

    /// The project's `limit` newest rejected integrations, newest first: those whose commits
    /// the mirror keeps.
    pub async fn newest_rejected(&self, project: &str, limit: u32) -> Result<Vec<i64>, StateError> {
        Ok(sqlx::query_scalar(NEWEST_REJECTED)
            .bind(project)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Integrations that have not ended, oldest first: what a restarted controller resumes.
    pub async fn unfinished(&self) -> Result<Vec<Formed>, StateError> {
        self.unfinished_of(None).await
    }

    /// The branch's integrations that have not ended, head first: each is formed on the
    /// commit of the one before it.
    pub async fn chain(&self, project: &str, branch: &str) -> Result<Vec<Formed>, StateError> {
        self.unfinished_of(Some((project, branch))).await
    }

    async fn unfinished_of(&self, branch: Option<(&str, &str)>) -> Result<Vec<Formed>, StateError> {
        let query = match branch {
            None => sqlx::query_scalar(UNFINISHED),
            Some((project, branch)) => sqlx::query_scalar(UNFINISHED_ON).bind(project).bind(branch),
        };
        let ids: Vec<i64> = query.fetch_all(&self.pool).await?;
        let mut unfinished = Vec::new();
        for id in ids {
            unfinished.extend(self.integration(id).await?);
        }
        Ok(unfinished)
    }
}

/// Moves the integration on from `from` to `state`. An integration that is no longer in
/// `from` was ended meanwhile (cancelled by a user, or behind one that did not merge): the
/// transition is refused, so that nothing revives it.
pub(crate) async fn set_state(
    tx: &mut SqliteConnection,
    id: i64,
    from: IntegrationState,
    state: IntegrationState,
) -> Result<(), StateError> {
    let moved = sqlx::query("UPDATE integrations SET state = ? WHERE id = ? AND state = ?")
        .bind(name(&state))
        .bind(id)
        .bind(name(&from))
        .execute(tx)
        .await?;
    match moved.rows_affected() {
        0 => Err(ended_meanwhile(id)),
        _ => Ok(()),
    }
}

fn ended_meanwhile(id: i64) -> StateError {
    StateError::Conflict(format!("integration {id} ended meanwhile"))
}

impl Db {
    /// Whether a failed batch of the branch is being bisected: its integrations may reuse a
    /// failure stored under a build key, since half of a batch on the other half is often the
    /// very tree that failed.
    pub async fn bisecting(&self, project: &str, branch: &str) -> Result<bool, StateError> {
        let end: Option<Option<i64>> =
            sqlx::query_scalar("SELECT bisect_end FROM branches WHERE project = ? AND branch = ?")
                .bind(project)
                .bind(branch)
                .fetch_optional(&self.pool)
                .await?;
        Ok(end.flatten().is_some())
    }
}

/// The branch's bisection, if any, is over: the next integration takes the whole queue.
async fn clear_bisection(
    tx: &mut SqliteConnection,
    project: &str,
    branch: &str,
) -> Result<(), StateError> {
    sqlx::query(
        "UPDATE branches SET bisect_end = NULL, bisect_limit = NULL
         WHERE project = ? AND branch = ? AND bisect_end IS NOT NULL",
    )
    .bind(project)
    .bind(branch)
    .execute(tx)
    .await?;
    Ok(())
}

/// The integration ended without merging: those formed on its commit (the rest of the
/// branch's chain) can never merge as they are. They are cancelled in the same transaction,
/// their changes staged again in their places, to be formed again on what is ahead of them.
async fn end_behind(tx: &mut SqliteConnection, integration: &Formed) -> Result<(), StateError> {
    let behind: Vec<i64> = sqlx::query_scalar(UNFINISHED_ON)
        .bind(&integration.project)
        .bind(&integration.branch)
        .fetch_all(&mut *tx)
        .await?;
    let note = format!(
        "integration {} ahead of it ended without merging; its changes are staged again, to be integrated on what is ahead of them",
        integration.id
    );
    for id in behind.into_iter().filter(|id| *id > integration.id) {
        sqlx::query(GIVE_BACK_CHANGES).bind(id).execute(&mut *tx).await?;
        sqlx::query(CANCEL_ITEMS).bind(now_ms()).bind(id).execute(&mut *tx).await?;
        let event = Event { integration: Some(id), ..Event::of(integration, "", json!({})) };
        end(tx, event, IntegrationState::Cancelled, Some(&note)).await?;
    }
    Ok(())
}

async fn finish(
    tx: &mut SqliteConnection,
    integration: &Formed,
    state: IntegrationState,
    note: Option<&str>,
) -> Result<(), StateError> {
    end(tx, Event::of(integration, "", json!({})), state, note).await
}

/// Ends the integration that `of` is about, with its `integration_finished` entry.
async fn end(
    tx: &mut SqliteConnection,
    of: Event<'_>,
    state: IntegrationState,
    note: Option<&str>,
) -> Result<(), StateError> {
    let ended = sqlx::query(
        "UPDATE integrations SET state = ?, note = COALESCE(?, note), finished_at = ?
         WHERE id = ? AND state IN ('forming', 'running', 'pushing')",
    )
    .bind(name(&state))
    .bind(note)
    .bind(now_ms())
    .bind(of.integration)
    .execute(&mut *tx)
    .await?;
    if ended.rows_affected() == 0 {
        return Err(ended_meanwhile(of.integration.unwrap_or_default()));
    }
    let detail = json!({ "state": state, "note": note });
    Event { kind: "integration_finished", detail, ..of }.append(tx).await
}
