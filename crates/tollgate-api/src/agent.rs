//! The agents' protocol: how a machine registers, takes work, heartbeats and reports.
//!
//! An agent pulls: it registers ([`AgentHello`]), then long-polls for work ([`AgentPoll`] →
//! an [`AgentOffer`], or nothing after the poll's wait). Each offer is a lease whose id is the
//! fencing token: heartbeats ([`AgentPoll`] with the leases it runs) keep it alive, and the
//! report ([`AgentReport`]) is taken only under a lease that is still the agent's. What the
//! agent needs to run the work item it fetches from the controller: the sources with git, the
//! archives by their digest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{FailureView, WorkItemState};

/// What an agent says it is, when it registers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub name: String,
    /// `linux`, `macos`, `windows`.
    pub os: String,
    /// `x86_64`, `aarch64`.
    pub arch: String,
    /// `Debian 12`, from os-release.
    pub distribution: String,
    pub cores: u32,
    pub memory_bytes: u64,
    pub slots: u32,
    /// Coin's `Template`s it serves.
    pub templates: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// The agent's tollgate version.
    pub version: String,
}

/// Register: what the agent is, and the leases it still holds from before (a restart of the
/// controller, or of its link).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHello {
    pub info: AgentInfo,
    #[serde(default)]
    pub running: Vec<i64>,
}

/// The controller's answer to a registration or a heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentWelcome {
    /// A lease lives this long after the last heartbeat.
    pub lease_ms: u64,
    /// Leases the agent named that are not its own any more: it stops them and drops their
    /// results.
    #[serde(default)]
    pub drop: Vec<i64>,
    /// The agent is asked to drain: finish what runs, take nothing new, exit.
    #[serde(default)]
    pub drain: bool,
}

/// A long poll for work, and a heartbeat for the leases it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPoll {
    pub name: String,
    #[serde(default)]
    pub running: Vec<i64>,
    /// How long the controller may hold the poll when it has no work, in milliseconds.
    #[serde(default)]
    pub wait_ms: u64,
    /// The agent drains (it was asked to stop): it takes nothing new.
    #[serde(default)]
    pub draining: bool,
}

/// The answer to a poll: heartbeat news, and work if there is some.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPolled {
    #[serde(flatten)]
    pub welcome: AgentWelcome,
    pub offer: Option<AgentOffer>,
}

/// A project at a revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinView {
    pub project: String,
    pub revision: String,
}

/// What an integration's plan is a function of, besides tollgate's version: planning these
/// pins again anywhere gives the same work items with the same build keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPins {
    /// The project under test, at the integration commit.
    pub project: PinView,
    /// The product whose platform configurations apply, if any.
    pub platforms: Option<PinView>,
    pub salt: String,
    /// Every module of the plan at its revision: what is fetched before planning.
    pub fetch: Vec<PinView>,
}

/// A work item leased to an agent: everything it needs to plan and run it as the controller
/// did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentOffer {
    /// The lease: its id fences the report.
    pub lease: i64,
    pub integration: i64,
    pub work_item: String,
    /// The agent plans the integration again and checks that it finds this key.
    pub build_key: String,
    pub branch: String,
    #[serde(flatten)]
    pub pins: PlanPins,
    /// Run it whatever a store holds for its build key: a failed test run again to tell
    /// whether it is flaky.
    #[serde(default)]
    pub again: bool,
    /// The stored results of the builds it depends on: build key → record (the store's
    /// JSON), whose archives it fetches by digest.
    pub dependencies: BTreeMap<String, serde_json::Value>,
}

/// How a leased run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentReport {
    pub lease: i64,
    pub agent: String,
    /// Passed, reused, failed, error or cancelled.
    pub state: WorkItemState,
    pub failure: Option<FailureView>,
    /// The record to store under the build key (the store's JSON), when it passed or
    /// failed; its log and archives were uploaded before.
    pub record: Option<serde_json::Value>,
}

/// An agent as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    pub info: AgentInfo,
    /// `idle`, `busy`, `draining`, `lost`.
    pub state: String,
    pub slots_busy: u32,
    /// The work items it runs now: `integration/work item`.
    pub running: Vec<String>,
    pub first_seen: i64,
    pub last_seen: i64,
}
