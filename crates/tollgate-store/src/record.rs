//! The index entry of a build key: what the work item produced, serialised as JSON.
//!
//! Only results that say something about the change are recorded: passed, failed, cancelled.
//! A system failure (the core's `Outcome::Error`) is never a result; the work item runs again,
//! and [`RecordOutcome::of`] has no value for it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tollgate_api::TestResult;
use tollgate_core::run::{Failure, Outcome};

use crate::Digest;

/// What a work item with a given build key produced. Serialised as JSON in the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub outcome: RecordOutcome,
    /// The failing instruction, when the work item failed.
    pub failure: Option<RecordFailure>,
    /// Stored archives by their Coin name: "artifacts.tar.gz" (UploadModuleBuildArtifact),
    /// "tests.tar.gz" (UploadModuleTestsArtifact), "docs.tar.gz", "testresults.tar.gz", or a
    /// GenericArtifactWithName filename. The bytes are tar+zstd whatever the name says.
    pub artifacts: BTreeMap<String, Digest>,
    /// The work item's log.
    pub log: Option<Digest>,
    /// The work item's id, e.g. "demo/libgreet:debian-12:Build".
    pub work_item: String,
    pub started_unix_ms: u64,
    pub finished_unix_ms: u64,
    /// The tests its results files name (`ScheduleUploadTestResults`), as they ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestResult>,
}

/// How the recorded run ended. An `Error` (the system's fault) is never recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordOutcome {
    Passed,
    /// The change's fault: reusing this record rejects the change again without running.
    Failed,
    Cancelled,
}

impl RecordOutcome {
    /// The outcome to record for a run's outcome; `None` for `Outcome::Error`, which is never
    /// recorded.
    pub fn of(outcome: &Outcome) -> Option<RecordOutcome> {
        match outcome {
            Outcome::Passed => Some(RecordOutcome::Passed),
            Outcome::Failed(_) => Some(RecordOutcome::Failed),
            Outcome::Cancelled => Some(RecordOutcome::Cancelled),
            Outcome::Error(_) => None,
        }
    }
}

/// The instruction that failed, where it is written, and what a maintainer is told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFailure {
    /// `qt/qtbase/coin/instructions/cmake_run_ctest.yaml`: the project, then the path.
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Its `type`: `ExecuteCommand`, ...
    pub instruction: String,
    /// What happened: `exited with code 2`.
    pub message: String,
    /// `userMessageOnFailure`.
    pub user_message: Option<String>,
}

impl From<&Failure> for RecordFailure {
    fn from(failure: &Failure) -> RecordFailure {
        RecordFailure {
            file: failure.location.file.to_string(),
            line: failure.location.position.line,
            column: failure.location.position.column,
            instruction: failure.instruction.to_owned(),
            message: failure.message.clone(),
            user_message: failure.user_message.clone(),
        }
    }
}
