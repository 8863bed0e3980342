//! The gate end to end: real git remotes, real SQLite, real sandboxed work items.

mod support;

mod gating;
mod metrics;
mod mirrors;
mod new_user;
mod streams;
mod tokens;
