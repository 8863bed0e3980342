//! The stall alarm: a gated branch whose queue waits far longer for a verdict than its
//! integrations take. Nothing fails then, so nothing else says so: a hung build without
//! timeouts, a machine that errors every integration, a push that never ends.
//!
//! The decision is pure ([`stalled`]); the branch's pace is read from the state at each look,
//! and a look happens at every scrape, every `/readyz` and twice a minute in a task of its
//! own, so that the log says when a stall starts even where nobody scrapes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tollgate_state::{Pace, now_ms};

use crate::controller::{Controller, lock};
use crate::error::ControllerError;

/// How many of a branch's last verdicts its median integration time is taken from.
pub(crate) const HISTORY: i64 = 20;

/// How often the task looks at every branch.
const LOOK_EVERY: Duration = Duration::from_secs(30);

/// A branch that waits too long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stall {
    /// How long the queue has waited for a verdict.
    pub waited: Duration,
    /// How long it may: `factor ×` the median, never less than the floor.
    pub limit: Duration,
    /// The median integration time of the last verdicts, if there were any.
    pub median: Option<Duration>,
}

/// A gated branch as the health routes and the metrics show it.
#[derive(Debug)]
pub(crate) struct BranchHealth {
    pub project: String,
    pub branch: String,
    /// Changes staged, waiting for an integration.
    pub staged: u64,
    pub stall: Option<Stall>,
}

/// The branches known to be stalled, so that a stall is logged once when it starts.
#[derive(Default)]
pub(crate) struct Stalls {
    known: std::sync::Mutex<HashSet<(String, String)>>,
}

/// The median of `durations`; `None` for none.
pub(crate) fn median(mut durations: Vec<i64>) -> Option<i64> {
    durations.sort_unstable();
    let middle = durations.len() / 2;
    match durations.len() {
        0 => None,
        n if n % 2 == 1 => Some(durations[middle]),
        _ => Some((durations[middle - 1] + durations[middle]) / 2),
    }
}

/// Whether the branch is stalled at `now` (ms): changes wait, and the later of the oldest
/// one's staging and the last verdict is longer ago than `factor ×` the median integration
/// time of the recent verdicts, or than `floor` when that is less or there are none.
pub(crate) fn stalled(pace: &Pace, now: i64, factor: u32, floor: Duration) -> Option<Stall> {
    if pace.undecided == 0 {
        return None;
    }
    let last_verdict = pace.verdicts.iter().map(|v| v.decided_at).max();
    let since = pace.waiting_since.into_iter().chain(last_verdict).max()?;
    let durations = pace.verdicts.iter().map(|v| (v.decided_at - v.formed_at).max(0)).collect();
    let median = median(durations).map(|ms| Duration::from_millis(ms as u64));
    let limit = median.map_or(floor, |median| (median * factor).max(floor));
    let waited = Duration::from_millis((now - since).max(0) as u64);
    (waited > limit).then_some(Stall { waited, limit, median })
}

impl Stall {
    /// For people: how long, against what.
    pub fn message(&self) -> String {
        let minutes = |time: Duration| format!("{} min", time.as_secs().div_ceil(60));
        let why = match self.median {
            Some(median) => format!("the median integration time is {}", minutes(median)),
            None => "no integration has reached a verdict yet".to_owned(),
        };
        format!(
            "no verdict for {} while changes wait; the limit is {} ({why})",
            minutes(self.waited),
            minutes(self.limit)
        )
    }
}

impl Controller {
    /// Every gated branch's queue and whether it is stalled, read now. A stall that starts
    /// is logged once, and so is its end.
    pub(crate) async fn branch_health(&self) -> Result<Vec<BranchHealth>, ControllerError> {
        let (factor, floor) = (self.config.stall_factor, self.config.stall_floor);
        let mut branches = Vec::new();
        for project in self.db.projects().await? {
            for branch in &project.spec.branches {
                let pace = self.db.pace(&project.spec.name, branch, HISTORY).await?;
                branches.push(BranchHealth {
                    project: project.spec.name.clone(),
                    branch: branch.clone(),
                    staged: pace.staged,
                    stall: stalled(&pace, now_ms(), factor, floor),
                });
            }
        }
        let now: HashSet<(String, String)> = branches
            .iter()
            .filter(|health| health.stall.is_some())
            .map(|health| (health.project.clone(), health.branch.clone()))
            .collect();
        let mut known = lock(&self.stalls.known);
        for health in &branches {
            let key = (health.project.clone(), health.branch.clone());
            match &health.stall {
                Some(stall) if !known.contains(&key) => tracing::warn!(
                    project = health.project,
                    branch = health.branch,
                    waited_s = stall.waited.as_secs(),
                    limit_s = stall.limit.as_secs(),
                    "the branch is stalled: {}",
                    stall.message()
                ),
                None if known.contains(&key) => tracing::info!(
                    project = health.project,
                    branch = health.branch,
                    "the branch is no longer stalled"
                ),
                _ => {}
            }
        }
        *known = now;
        Ok(branches)
    }
}

/// Looks at every branch twice a minute until the service stops, for the log's sake.
pub(crate) async fn watch(controller: Arc<Controller>) {
    let mut tick = tokio::time::interval(LOOK_EVERY);
    loop {
        tokio::select! {
            () = controller.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(error) = controller.branch_health().await {
            tracing::warn!(%error, "cannot look for stalled branches");
        }
    }
}

#[cfg(test)]
mod tests {
    use tollgate_state::Verdict;

    use super::*;

    const MIN: i64 = 60_000;
    const FLOOR: Duration = Duration::from_secs(600);

    /// A branch whose verdicts took `minutes` each, the last decided at `last`, with one
    /// change staged at `staged`.
    fn pace(minutes: &[i64], last: i64, staged: Option<i64>) -> Pace {
        let verdicts = minutes
            .iter()
            .enumerate()
            .map(|(n, took)| {
                let decided_at = last - n as i64 * 100 * MIN;
                Verdict { formed_at: decided_at - took * MIN, decided_at }
            })
            .collect();
        Pace {
            staged: u64::from(staged.is_some()),
            undecided: u64::from(staged.is_some()),
            waiting_since: staged,
            verdicts,
        }
    }

    #[test]
    fn the_median_is_the_middle_one_or_between_the_two() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![7]), Some(7));
        assert_eq!(median(vec![30, 10, 20]), Some(20));
        assert_eq!(median(vec![40, 10, 30, 20]), Some(25));
        assert_eq!(median(vec![5, 1000, 6]), Some(6), "one slow integration moves it little");
    }

    #[test]
    fn a_queue_without_a_verdict_for_factor_times_the_median_is_stalled() {
        // Verdicts of 10, 20 and 30 minutes: a median of 20, a limit of 60.
        let branch = pace(&[10, 20, 30], 0, Some(5 * MIN));
        assert_eq!(stalled(&branch, 64 * MIN, 3, FLOOR), None, "59 minutes since it was staged");
        let stall = stalled(&branch, 66 * MIN, 3, FLOOR).unwrap();
        assert_eq!(stall.waited, Duration::from_secs(61 * 60));
        assert_eq!(stall.limit, Duration::from_secs(60 * 60));
        assert_eq!(stall.median, Some(Duration::from_secs(20 * 60)));
        assert!(stall.message().contains("no verdict for 61 min"), "{}", stall.message());
        assert!(stall.message().contains("median integration time is 20 min"));
    }

    #[test]
    fn the_wait_counts_from_the_last_verdict_when_that_is_later_than_the_staging() {
        // Staged long ago behind a busy queue, but a verdict came 30 minutes ago.
        let branch = pace(&[20], 100 * MIN, Some(0));
        assert_eq!(stalled(&branch, 130 * MIN, 3, FLOOR), None);
        assert!(stalled(&branch, 161 * MIN, 3, FLOOR).is_some());
    }

    #[test]
    fn an_empty_queue_is_never_stalled() {
        let idle = pace(&[1], 0, None);
        assert_eq!(stalled(&idle, 1000 * MIN, 3, FLOOR), None);
    }

    #[test]
    fn without_history_or_with_fast_integrations_the_floor_is_the_limit() {
        let new = pace(&[], 0, Some(0));
        assert_eq!(stalled(&new, 10 * MIN, 3, FLOOR), None);
        let stall = stalled(&new, 11 * MIN, 3, FLOOR).unwrap();
        assert_eq!((stall.limit, stall.median), (FLOOR, None));
        assert!(stall.message().contains("no integration has reached a verdict"));
        // Integrations of a minute: 3 minutes would be an alarm for every busy hour.
        let fast = pace(&[1, 1, 1], 0, Some(0));
        assert_eq!(stalled(&fast, 9 * MIN, 3, FLOOR), None);
        assert_eq!(stalled(&fast, 11 * MIN, 3, FLOOR).unwrap().limit, FLOOR);
    }
}
