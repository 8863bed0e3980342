//! Projects, their gated branches, and the status of everything.

use serde::{Deserialize, Serialize};

use crate::{ChangeView, IntegrationView};

/// A project as configured: what `POST /api/projects` takes and the TOML file lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSpec {
    /// The project's name in Coin's files: `qt/qtbase`.
    pub name: String,
    /// Any URL git can fetch and push: `file://`, `ssh://`, `https://`.
    pub url: String,
    /// The branches tollgate gates. A project with none is only read, as a dependency.
    #[serde(default)]
    pub branches: Vec<String>,
    /// The project whose `coin/platform_configs/` holds the configurations (`qt/qt5`); the
    /// project's own folder without it.
    #[serde(default)]
    pub product: Option<String>,
}

/// `POST /api/projects/remove`: stop gating some branches of a project, or all of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveProject {
    pub project: String,
    /// The branches to stop gating; none: the whole project is forgotten (its history stays).
    #[serde(default)]
    pub branches: Vec<String>,
}

/// What a removal did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRemoved {
    pub project: String,
    /// The branches not gated any more.
    pub branches: Vec<String>,
    /// The project is forgotten, not only some of its branches.
    pub forgotten: bool,
    /// The changes that were staged there, unstaged now.
    pub unstaged: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectView {
    #[serde(flatten)]
    pub spec: ProjectSpec,
    /// When its mirror was last fetched.
    pub fetched_at: Option<i64>,
    /// The last fetch failed with this.
    pub fetch_error: Option<String>,
}

/// One gated branch: its queue and its integrations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchView {
    pub project: String,
    pub branch: String,
    /// The branch on the remote, as last fetched.
    pub tip: Option<String>,
    /// The remote has no such branch as of the last fetch: nothing merges until it is back.
    #[serde(default)]
    pub missing: bool,
    /// Changes waiting for the next integration, in staging order.
    pub queue: Vec<ChangeView>,
    /// The integration running now, with its work items.
    pub current: Option<IntegrationView>,
    /// The last few finished integrations, newest first, without work items.
    pub recent: Vec<IntegrationView>,
}

/// `GET /api/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub projects: Vec<ProjectView>,
    pub branches: Vec<BranchView>,
    /// Work items running now, and how many may run at once.
    pub slots_busy: u32,
    pub slots: u32,
    /// The agents by state, this machine's own slots counted as one more.
    #[serde(default)]
    pub agents: AgentCounts,
    /// What the operator should look at: stalled branches.
    #[serde(default)]
    pub warnings: Vec<HealthWarning>,
}

/// How many agents are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCounts {
    pub idle: u32,
    pub busy: u32,
    pub draining: u32,
    pub lost: u32,
}

impl AgentCounts {
    /// Counts one agent in `state` (`idle`, `busy`, `draining`, `lost`).
    pub fn count(&mut self, state: &str) {
        match state {
            "idle" => self.idle += 1,
            "busy" => self.busy += 1,
            "draining" => self.draining += 1,
            "lost" => self.lost += 1,
            _ => {}
        }
    }

    /// Each state's name and count.
    pub fn by_state(&self) -> [(&'static str, u32); 4] {
        [("idle", self.idle), ("busy", self.busy), ("draining", self.draining), ("lost", self.lost)]
    }
}

/// A branch the operator should look at, in `/readyz` and the status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthWarning {
    pub project: String,
    pub branch: String,
    /// `stalled`: changes are staged and no verdict came for far longer than usual.
    pub kind: String,
    pub message: String,
    pub waited_seconds: u64,
    pub limit_seconds: u64,
}

/// `GET /api/branch?project=&branch=&before=&limit=`: one gated branch and a page of its
/// history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchDetail {
    #[serde(flatten)]
    pub branch: BranchView,
    /// Its integrations, newest first, without work items; `next` pages on (`before=`).
    pub history: crate::Page<IntegrationView>,
}
