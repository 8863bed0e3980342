//! The gate's decisions over an integration's work items, without I/O: which work items may
//! start, which can no longer run, and whether the integration merges, is rejected, or
//! errored. The controller keeps the states; these functions only look at them.

mod decide;
mod jobs;

pub use decide::{Gate, decide};
pub use jobs::{Job, JobState, Jobs};
