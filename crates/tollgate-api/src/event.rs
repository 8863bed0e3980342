//! The decision log: what the controller decided and did, append-only.

use serde::{Deserialize, Serialize};

/// One entry of the decision log. `kind` is one of: `staged`, `unstaged`,
/// `integration_formed`, `change_conflicted`, `planned`, `work_item_started`,
/// `work_item_finished`, `work_item_reused`, `work_item_retried`, `gate_decided`, `pushed`,
/// `integration_finished`, `recovered`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    /// Increases with each event; the events route pages with it (`before=`, `after=`).
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub project: String,
    pub branch: String,
    pub integration: Option<i64>,
    pub change: Option<i64>,
    pub work_item: Option<String>,
    /// The kind's own fields: SHAs, outcomes, reasons.
    pub detail: serde_json::Value,
}
