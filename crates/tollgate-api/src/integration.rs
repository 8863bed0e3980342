//! Integrations: a branch tip plus a batch of changes, planned, run and gated.

use serde::{Deserialize, Serialize};

use crate::PlanPins;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationState {
    /// The changes are being merged onto the tip and the result planned.
    Forming,
    /// Its work items are running.
    Running,
    /// Every significant work item passed; the branch is being moved.
    Pushing,
    /// The branch is at the integration commit.
    Merged,
    /// A significant work item failed, or the configuration is broken: the changes are
    /// rejected.
    Rejected,
    /// The system failed past its retries; the changes went back to staged.
    Errored,
    /// Cancelled by a user; the changes went back to staged.
    Cancelled,
    /// The branch moved on the remote meanwhile; the changes are integrated again on the new tip.
    Superseded,
}

impl IntegrationState {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationState::Forming => "forming",
            IntegrationState::Running => "running",
            IntegrationState::Pushing => "pushing",
            IntegrationState::Merged => "merged",
            IntegrationState::Rejected => "rejected",
            IntegrationState::Errored => "errored",
            IntegrationState::Cancelled => "cancelled",
            IntegrationState::Superseded => "superseded",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(
            self,
            IntegrationState::Forming | IntegrationState::Running | IntegrationState::Pushing
        )
    }
}

/// What became of one change when it was merged onto the tip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeResult {
    /// The tip was already in the change's history: the change itself is the new tip.
    FastForward,
    Merged,
    /// It conflicts with the tip or an earlier change of the batch; rejected on its own.
    Conflict,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationChange {
    pub change: i64,
    pub commit: String,
    pub subject: String,
    pub merge: Option<MergeResult>,
    /// When it was staged (ms): the branch's page shows how long it waited to be merged.
    #[serde(default)]
    pub staged_at: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkItemState {
    /// Waiting for a slot or for the work items it depends on.
    Waiting,
    Running,
    Passed,
    /// A passed result with the same build key was in the store; nothing ran.
    Reused,
    /// The change's fault.
    Failed,
    /// The system's fault, past its retries.
    Error,
    /// Not run: a work item it depends on did not pass, or the integration was decided first.
    Skipped,
    Cancelled,
}

impl WorkItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkItemState::Waiting => "waiting",
            WorkItemState::Running => "running",
            WorkItemState::Passed => "passed",
            WorkItemState::Reused => "reused",
            WorkItemState::Failed => "failed",
            WorkItemState::Error => "error",
            WorkItemState::Skipped => "skipped",
            WorkItemState::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, WorkItemState::Waiting | WorkItemState::Running)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItemView {
    /// `demo/greeter:debian-12:Build`.
    pub id: String,
    pub build_key: String,
    pub significant: bool,
    pub state: WorkItemState,
    /// Runs so far, retries included.
    pub attempts: u32,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Why it failed or errored.
    pub failure: Option<FailureView>,
    /// Where its log is: an API path, when there is a log.
    pub log: Option<String>,
    /// The agent of its newest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Why it waits for an agent that no connected one can be: "no agent serves template X".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// Tests that failed while quarantined: it passed because their failures did not reject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<crate::QuarantinedTest>,
}

/// A failing instruction, as a maintainer is told about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureView {
    pub work_item: String,
    pub project: String,
    pub configuration: String,
    /// Where the instruction is written: `demo/greeter/coin/instructions/build.yaml:14:5`.
    pub location: String,
    /// `ExecuteCommand`.
    pub instruction: String,
    /// `exited with code 2`.
    pub message: String,
    /// The instruction's `userMessageOnFailure`.
    pub user_message: Option<String>,
    /// The log, as an API path.
    pub log: Option<String>,
    /// The lines of the log that show the failure: a test's FAIL line, the compiler's error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excerpt: Vec<String>,
    /// The tests that failed, as its test results say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<FailedTest>,
}

/// A test that failed, and its history on this configuration when it has failed before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedTest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<TestRecord>,
}

/// A test's last 30 days on one configuration, this run included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRecord {
    /// Runs of its work item.
    pub runs: u64,
    pub failures: u64,
    /// Failures forgiven because every re-run passed.
    pub flakes: u64,
}

impl TestRecord {
    /// "failed 3 times in 40 runs (7.5%) in 30 days, 2 of them forgiven as flaky".
    pub fn describe(&self) -> String {
        let rate = match self.runs {
            0 => 0.0,
            runs => 100.0 * self.failures as f64 / runs as f64,
        };
        let times =
            if self.failures == 1 { "once".to_owned() } else { format!("{} times", self.failures) };
        let mut text = format!("failed {times} in {} runs ({rate:.1}%) in 30 days", self.runs);
        if self.flakes > 0 {
            text.push_str(&format!(", {} of them forgiven as flaky", self.flakes));
        }
        text
    }
}

/// Why changes were rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rejection {
    /// Significant work items failed. `batch`: the changes integrated together (conflicting
    /// ones aside), each rejected with the others: which of them broke it is not known when
    /// there are several.
    Failed {
        failures: Vec<FailureView>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        batch: Vec<i64>,
    },
    /// The change does not merge onto the tip and the changes before it in the batch.
    Conflict { paths: Vec<String> },
    /// The change shares no history with the branch.
    Unrelated,
    /// The Coin configuration at the integration commit has errors.
    Configuration { diagnostics: Vec<String> },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationView {
    pub id: i64,
    pub project: String,
    pub branch: String,
    pub state: IntegrationState,
    /// The branch tip it was formed on.
    pub base: String,
    /// The merge of the changes onto `base`; what the branch moves to.
    pub commit: Option<String>,
    pub changes: Vec<IntegrationChange>,
    /// Empty in lists; filled when one integration is asked for.
    pub work_items: Vec<WorkItemView>,
    pub rejection: Option<Rejection>,
    /// Why the system gave up (errored), or who cancelled.
    pub note: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl IntegrationView {
    /// Its changes, each outcome counted, to follow its state: `merged 1 change, 1 rejected
    /// for a conflict`. A change that conflicted was rejected on its own, whatever became of
    /// the others.
    pub fn outcome(&self) -> String {
        let conflicts =
            self.changes.iter().filter(|c| c.merge == Some(MergeResult::Conflict)).count();
        let others = self.changes.len() - conflicts;
        let word = if others == 1 { "change" } else { "changes" };
        match (others, conflicts) {
            (_, 0) => format!("{others} {word}"),
            (0, _) => format!("{conflicts} rejected for a conflict"),
            _ => format!("{others} {word}, {conflicts} rejected for a conflict"),
        }
    }
}

/// `GET /api/work-item?integration=ID&item=WORK_ITEM`: one work item of an integration, with
/// where its result came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItemDetail {
    pub integration: i64,
    pub project: String,
    pub branch: String,
    #[serde(flatten)]
    pub item: WorkItemView,
    /// When it was reused: the integration whose run stored the result.
    pub reused_from: Option<i64>,
    /// What the run stored under the build key, by Coin's names.
    pub archives: Vec<ArchiveView>,
    /// The tests its results files name, failed ones first.
    #[serde(default)]
    pub tests: Vec<TestResult>,
}

/// `GET /api/reproduce?integration=ID&item=WORK_ITEM`: what `tollgate reproduce` needs to run
/// a work item of an integration again elsewhere, as it ran in the gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reproduction {
    pub integration: i64,
    pub work_item: String,
    /// What planning the pins again must give the work item.
    pub build_key: String,
    pub branch: String,
    /// How it ended in the gate, and why, to compare with the run elsewhere.
    pub state: WorkItemState,
    pub failure: Option<FailureView>,
    #[serde(flatten)]
    pub pins: PlanPins,
}

/// One test of a work item, as its results files say (`ScheduleUploadTestResults`: JUnit XML,
/// CTest's JUnit output, Qt Test's XML).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    /// `tst_qstring::append` (Qt Test: test case and function, with `[data tag]`), or JUnit's
    /// `classname::name`.
    pub name: String,
    pub outcome: TestOutcome,
    /// Why it failed or was skipped, as the results say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    Passed,
    Failed,
    Skipped,
}

impl TestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TestOutcome::Passed => "passed",
            TestOutcome::Failed => "failed",
            TestOutcome::Skipped => "skipped",
        }
    }
}

/// `GET /api/tests?project=P&days=N`: a test that failed in the last days, on one platform
/// configuration: how often, how often it was forgiven as a flake, against how many runs of
/// its work item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestHistory {
    pub configuration: String,
    pub work_item: String,
    pub test: String,
    pub runs: u64,
    pub failures: u64,
    pub flakes: u64,
    /// Failures per run of its work item.
    pub failure_rate: f64,
    pub last_failed: i64,
}

/// An archive of the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveView {
    /// `artifacts.tar.gz`.
    pub name: String,
    pub digest: String,
    /// Its size in the store (compressed); none when the blob is not there.
    pub bytes: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::TestRecord;

    #[test]
    fn a_test_record_reads_as_a_sentence() {
        let record = TestRecord { runs: 40, failures: 3, flakes: 2 };
        assert_eq!(
            record.describe(),
            "failed 3 times in 40 runs (7.5%) in 30 days, 2 of them forgiven as flaky"
        );
        let once = TestRecord { runs: 8, failures: 1, flakes: 0 };
        assert_eq!(once.describe(), "failed once in 8 runs (12.5%) in 30 days");
    }
}
