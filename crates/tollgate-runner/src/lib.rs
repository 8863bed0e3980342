//! Runs tollgate's work items on the local hypervisor (Coin's `--hypervisor local`).
//!
//! A [`Runner`] takes one planned work item, reuses a stored passed result with the same build
//! key when there is one, and otherwise runs it in a fresh workspace: the core's
//! `run::Session` decides each step, the local agent performs it, in a bubblewrap sandbox
//! (see [`sandbox`]). The log is written as it grows; the log, the archives and the result are
//! stored under the build key. The controller, and later remote agents and VMs, call this same
//! runner.

mod agent;
mod excerpt;
mod failure;
pub mod log;
mod process;
pub mod results;
mod runner;
pub mod sandbox;
pub mod tree_cache;
pub mod workspace;

pub use excerpt::{excerpt, excerpt_of_file};
pub use failure::failure_view;
pub use log::Observer;
pub use runner::{
    DEFAULT_LOG_CAP, DEFAULT_TREE_CACHE_LIMIT, Finished, Reuse, Runner, RunnerOptions, summary,
};
pub use sandbox::cleanup::stale_runs;
pub use sandbox::{Sandbox, SandboxError};
pub use tree_cache::TreeCache;
