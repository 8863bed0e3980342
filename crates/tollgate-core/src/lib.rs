//! The pure core of tollgate.
//!
//! It reads Qt's Coin configuration (module files, includes, platform configurations,
//! dependency pins), evaluates conditions, renders templates and plans an integration's work
//! items with their build keys, and it decides how a work item's instructions run
//! ([`run::Session`]). It does no I/O: it reads through [`source::Source`], and it
//! reports bad input as [`diagnostic::Diagnostic`]s instead of failing.

pub mod coin;
pub mod diagnostic;
pub mod gate;
pub mod plan;
pub mod run;
pub mod schedule;
pub mod source;
pub mod template;
pub mod yaml;
