//! The runtime configuration as the service uses it now, and how its last reload went.

use serde::{Deserialize, Serialize};

/// `GET /api/config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuntimeView {
    /// The file it is read from; none when the service started without one.
    pub file: Option<String>,
    /// When the runtime in force was read (ms since the epoch).
    pub loaded_at: i64,
    /// Why the file as it is now was refused (`FILE:LINE:COLUMN: …`); the runtime in force is
    /// the one read before. None once a good file is read.
    pub error: Option<String>,
    pub flaky_reruns: u32,
    pub max_batch: u32,
    pub parallel_integration_delay_ms: u64,
    pub parallel_project_rules: Vec<ParallelRuleView>,
    pub platform_classes: Vec<PlatformClassView>,
    /// The `sched_rules`, counted.
    pub sched_rules: usize,
    pub accumulation: Option<AccumulationView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParallelRuleView {
    pub project: String,
    pub branch: String,
    pub depth: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlatformClassView {
    pub name: String,
    pub depth: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccumulationView {
    pub author: String,
    pub delay_ms: u64,
    pub enabled: bool,
}
