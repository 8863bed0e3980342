//! One task per gated branch: it keeps the branch's chain of integrations going.
//!
//! Coin's rule is one integration at a time per branch. A branch that speculates (Coin's
//! `parallel_project_rules`, Zuul's dependent pipeline) runs up to its depth at once, each
//! formed on the commit of the one ahead of it, so that the one behind is already tested when
//! the one ahead merges. The task resumes the chain a previous run left, forms the next
//! integration while there is room and something is staged, and drives each one in its own
//! task. When one ends without merging, the state has ended the ones behind it in the same
//! transaction; the task stops their drives and forms again on what is left. After an
//! integration that errored (the system failed, its work items retried in vain) it waits
//! longer each time before forming the next, so a broken machine is not a busy loop.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tollgate_api::{ChangeState, IntegrationState};
use tollgate_state::Take;

use crate::controller::{Controller, lock};
use crate::error::{ControllerError, blocking};

pub async fn run(controller: Arc<Controller>, project: String, branch: String, task: u64) {
    let waker = controller.waker(&project, &branch);
    let mut drives: JoinSet<(i64, Result<Step, ControllerError>)> = JoinSet::new();
    let mut driven: HashSet<i64> = HashSet::new();
    let mut failures: u32 = 0;
    // No integration is formed before this: after an error.
    let mut not_before: Option<Instant> = None;
    // The remote has lost the branch, and the log says so: said once, until it is back.
    let mut missing = false;
    loop {
        if controller.shutdown.is_cancelled() {
            return;
        }
        let gated = controller.gates(&project, &branch, task);
        if !gated && drives.is_empty() {
            return;
        }
        // After an error, neither a drive starts again nor is anything formed for a while.
        let go = not_before.is_none_or(|at| at <= Instant::now());
        let followed = follow(&controller, &project, &branch, go, &mut drives, &mut driven).await;
        let formed = match followed {
            Ok(chain) if gated && go => {
                form_next(&controller, &project, &branch, &chain, &mut missing).await
            }
            Ok(_) => Ok(Next::Nothing),
            Err(error) => Err(error),
        };
        // The branch is looked at again then: it was missing on the remote, or changes wait.
        let mut recheck = None;
        let pause = match formed {
            Ok(Next::One) => continue,
            Ok(Next::Nothing) => None,
            Ok(Next::Later(after)) => {
                recheck = Some(Instant::now() + after);
                None
            }
            Err(error) => {
                failures += 1;
                tracing::error!(project, branch, %error, "the branch could not go on; trying again");
                Some(Duration::from_millis(250 << failures.min(8)))
            }
        };
        if let Some(pause) = pause {
            not_before = Some(Instant::now() + pause);
        }
        let retry = not_before.filter(|at| *at > Instant::now());
        if retry.is_none() {
            not_before = None;
        }
        let wake_at = match (retry, recheck) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            () = controller.shutdown.cancelled() => return,
            Some(joined) = drives.join_next() => {
                let Ok((id, step)) = joined else { continue };
                driven.remove(&id);
                match step {
                    Ok(Step::Ended) => failures = 0,
                    Ok(Step::Errored) => {
                        failures += 1;
                        let pause = controller.config.retry_backoff * 2u32.pow(failures.min(6));
                        tracing::warn!(project, branch, ?pause, "the integration errored; waiting before the next");
                        not_before = Some(Instant::now() + pause);
                    }
                    Err(error) => {
                        failures += 1;
                        tracing::error!(project, branch, integration = id, %error, "the integration could not go on; trying again");
                        not_before = Some(Instant::now() + Duration::from_millis(250 << failures.min(8)));
                    }
                }
            }
            // Something was staged, an integration was formed or cancelled; a missing branch
            // is looked at again when a change is staged, too.
            () = waker.notified() => {}
            () = tokio::time::sleep_until(wake_at.unwrap_or_else(Instant::now)), if wake_at.is_some() => {}
        }
    }
}

/// What forming came to.
enum Next {
    /// An integration was formed: there may be room for another.
    One,
    /// Nothing to form now: nothing staged, no room, or the last one has no commit yet.
    Nothing,
    /// Changes wait: the remote has no such branch (any more), the delay between parallel
    /// integrations has not passed, or they accumulate. Looked at again after this.
    Later(Duration),
}

/// How one integration's drive ended.
enum Step {
    /// It ran to its end (or stopped: cancelled, superseded, ended behind another).
    Ended,
    /// It errored; its changes are staged again.
    Errored,
}

/// Reads the branch's chain, tells the integrations who is ahead of them, stops the drives of
/// those that ended meanwhile (behind one that did not merge), and drives those not driven
/// (unless it may not `go` yet, after an error).
async fn follow(
    controller: &Arc<Controller>,
    project: &str,
    branch: &str,
    go: bool,
    drives: &mut JoinSet<(i64, Result<Step, ControllerError>)>,
    driven: &mut HashSet<i64>,
) -> Result<Vec<tollgate_state::Formed>, ControllerError> {
    let chain = controller.db.chain(project, branch).await?;
    let ids: Vec<i64> = chain.iter().map(|integration| integration.id).collect();
    controller.publish_chain(project, branch, ids.clone());
    for id in driven.iter().filter(|id| !ids.contains(id)) {
        if let Some(token) = lock(&controller.running).get(id) {
            token.cancel();
        }
    }
    for integration in chain.iter().filter(|_| go) {
        if driven.insert(integration.id) {
            let (controller, integration) = (controller.clone(), integration.clone());
            drives.spawn(async move { (integration.id, drive(&controller, integration).await) });
        }
    }
    Ok(chain)
}

/// Forms the next integration when the chain has room: on the tip when the chain is empty,
/// else on the commit of its last integration, once that one has its commit.
async fn form_next(
    controller: &Arc<Controller>,
    project: &str,
    branch: &str,
    chain: &[tollgate_state::Formed],
    missing: &mut bool,
) -> Result<Next, ControllerError> {
    let runtime = controller.runtime();
    let depth = runtime.speculation.depth(project, branch) as usize;
    if chain.len() >= depth {
        return Ok(Next::Nothing);
    }
    if controller.db.changes(project, branch, ChangeState::Staged).await?.is_empty() {
        return Ok(Next::Nothing);
    }
    // Coin's parallel_integration_delay: the depth is not all started in one burst.
    if let Some(last) = chain.last() {
        let since =
            Duration::from_millis((tollgate_state::now_ms() - last.created_at).max(0) as u64);
        if let Some(wait) = runtime.parallel_integration_delay.checked_sub(since)
            && !wait.is_zero()
        {
            return Ok(Next::Later(wait));
        }
    }
    let base = match chain.last() {
        Some(last) => match &last.commit {
            Some(commit) => commit.clone(),
            // Its form phase wakes the branch once the commit is made.
            None => return Ok(Next::Nothing),
        },
        None => match tip(controller, project, branch, missing).await? {
            Some(tip) => tip,
            None => return Ok(Next::Later(controller.config.poll_interval)),
        },
    };
    // Coin's cherry-pick delay: the changes of an author (a bot) wait to accumulate.
    let accumulating = runtime.accumulating();
    let holds = |author: &str, staged_at: i64| {
        accumulating.is_some_and(|(pattern, delay)| {
            pattern.is_match(author)
                && tollgate_state::now_ms() - staged_at < delay.as_millis() as i64
        })
    };
    let take = Take {
        max_batch: runtime.max_batch,
        ways: (depth - chain.len()) as u32,
        holds: accumulating.is_some().then_some(&holds as _),
    };
    match controller.db.form(project, branch, &base, take).await? {
        Some(integration) => {
            let ahead = chain.last().map(|last| last.id);
            tracing::info!(integration = integration.id, project, branch, %base, ?ahead, changes = integration.changes.len(), "integration formed");
            Ok(Next::One)
        }
        // Held changes are looked at again soon: their wait ends by the clock.
        None if accumulating.is_some() => Ok(Next::Later(Duration::from_secs(1))),
        None => Ok(Next::Nothing),
    }
}

/// The branch's tip on the remote, as the mirror last fetched it (fetched again when the
/// mirror has no such branch); `None`, said in the log once, while the remote has none.
async fn tip(
    controller: &Arc<Controller>,
    project: &str,
    branch: &str,
    missing: &mut bool,
) -> Result<Option<String>, ControllerError> {
    let view = controller.gated_project(project, branch).await?;
    let mirror = controller.mirrors.mirror(project, &view.spec.url).await?;
    let head = format!("refs/heads/{branch}");
    let tip = {
        let (mirror, head) = (mirror.clone(), head.clone());
        blocking(move || mirror.resolve(&head)).await??
    };
    let tip = match tip {
        Some(tip) => tip,
        None => {
            let mirror = controller.fetch(&view).await?;
            match blocking(move || mirror.resolve(&head)).await?? {
                Some(tip) => tip,
                None => {
                    let why = format!(
                        "{project} has no branch `{branch}` at {} any more; its staged changes wait until it is back (or `tollgate project remove {project}`)",
                        view.spec.url
                    );
                    say_missing(controller, project, branch, missing, Some(&why)).await;
                    return Ok(None);
                }
            }
        }
    };
    say_missing(controller, project, branch, missing, None).await;
    Ok(Some(tip.as_str().to_owned()))
}

/// Records in the log that the branch went missing (`why`) or is back, once per change.
async fn say_missing(
    controller: &Controller,
    project: &str,
    branch: &str,
    missing: &mut bool,
    why: Option<&str>,
) {
    if *missing == why.is_some() {
        return;
    }
    *missing = why.is_some();
    let (kind, detail) = match why {
        Some(message) => {
            tracing::warn!(project, branch, message, "the branch is missing");
            ("branch_missing", serde_json::json!({ "message": message }))
        }
        None => {
            tracing::info!(project, branch, "the branch is back");
            ("branch_back", serde_json::json!({}))
        }
    };
    if let Err(error) = controller.db.branch_event(project, branch, kind, detail).await {
        tracing::warn!(project, branch, %error, "cannot record that the branch is missing");
    }
}

async fn drive(
    controller: &Arc<Controller>,
    integration: tollgate_state::Formed,
) -> Result<Step, ControllerError> {
    let id = integration.id;
    crate::integration::drive(controller, integration).await?;
    let Some(ended) = controller.db.integration(id).await? else { return Ok(Step::Ended) };
    controller.count_ended(&ended);
    controller.release_integration(&ended).await;
    if ended.state.is_final() {
        controller.integrated(&ended.project);
    }
    Ok(match ended.state {
        IntegrationState::Errored => Step::Errored,
        _ => Step::Ended,
    })
}
