//! tollgate's service: the gate.
//!
//! Changes are staged per branch (API, CLI, or `refs/staging/BRANCH/NAME` on the remote); one
//! task per branch forms an integration from every staged change, merges them onto the tip,
//! plans the result, runs its work items on agents (this machine's slots among them), gates, and moves the
//! branch by compare-and-swap. Every transition is committed to the state database before its
//! side effect, so a restarted controller resumes where the previous one stopped.

mod agents;
mod branch;
pub mod config;
mod controller;
mod error;
mod http;
mod integration;
mod keep;
mod log_watch;
mod maintenance;
mod metrics;
mod mirrors;
mod pages;
mod projects;
mod pushes;
mod quarantine;
mod reload;
pub mod secret;
mod staging;
mod stall;
mod tokens;

pub use config::Config;
pub use controller::{Controller, Service};
pub use error::ControllerError;
