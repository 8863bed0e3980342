//! Changes: commits staged for a branch.

use serde::{Deserialize, Serialize};

use crate::Rejection;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    /// Waiting for the next integration of its branch.
    Staged,
    /// In the integration named by `integration`.
    Integrating,
    /// On the branch.
    Merged,
    /// Not merged, with a reason.
    Rejected,
    /// Taken back by a user before it was merged.
    Unstaged,
}

impl ChangeState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::Staged => "staged",
            ChangeState::Integrating => "integrating",
            ChangeState::Merged => "merged",
            ChangeState::Rejected => "rejected",
            ChangeState::Unstaged => "unstaged",
        }
    }

    /// Whether nothing more will happen to the change.
    pub fn is_final(self) -> bool {
        matches!(self, ChangeState::Merged | ChangeState::Rejected | ChangeState::Unstaged)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeView {
    pub id: i64,
    pub project: String,
    pub branch: String,
    pub commit: String,
    /// The commit's first line.
    pub subject: String,
    pub author: String,
    pub state: ChangeState,
    /// Where it came from: `api`, or the staging ref that named it.
    pub origin: String,
    pub staged_at: i64,
    /// The integration it is in, or was last in.
    pub integration: Option<i64>,
    /// Why it was rejected.
    pub rejection: Option<Rejection>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRequest {
    pub project: String,
    pub branch: String,
    /// Commits or refs of the project's remote: a sha, `refs/...`, a branch name.
    pub changes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageResponse {
    /// One per requested change, in the same order. A change that was already staged comes
    /// back as it is: staging is idempotent.
    pub changes: Vec<ChangeView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnstageRequest {
    pub project: String,
    pub branch: String,
    /// The change's commit (a unique prefix is enough) or its id.
    pub change: String,
}
