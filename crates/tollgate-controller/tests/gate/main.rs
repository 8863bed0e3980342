//! The gate end to end: real git remotes, real SQLite, real sandboxed work items.

mod browser;
mod support;

mod agent_log;
mod bisect;
mod flaky;
mod gating;
mod metrics;
mod mirrors;
mod new_user;
mod pages;
mod quarantine;
mod reload;
mod speculate;
mod streams;
mod tokens;
