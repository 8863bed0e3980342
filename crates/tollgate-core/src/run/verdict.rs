//! How a work item ended, and why.

use std::fmt;

use crate::diagnostic::Location;

/// The end of a work item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// `ScheduleUploadTestResults` ran: the test results are uploaded, even after a failure.
    pub upload_test_results: bool,
}

/// Only [`Outcome::Failed`] is the change's fault. The distinction is kept up to the gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// The change's fault: a non-zero exit, a timeout, a template that does not render.
    Failed(Failure),
    /// The system's fault: retried elsewhere, never a reason to reject the change.
    Error(Failure),
    Cancelled,
}

/// The instruction that failed and what a maintainer is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Where the instruction is written.
    pub location: Location,
    /// Its `type`: `ExecuteCommand`, ...
    pub instruction: &'static str,
    /// What happened: `exited with code 2`.
    pub message: String,
    /// `userMessageOnFailure`, trimmed.
    pub user_message: Option<String>,
}

/// `qt/qtbase/coin/instructions/cmake_run_ctest.yaml:132:9: ExecuteCommand exited with code 8:
/// Failed to run tests.`
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.location, self.instruction, self.message)?;
        if let Some(user_message) = &self.user_message {
            write!(f, ": {user_message}")?;
        }
        Ok(())
    }
}
