//! The `tollgate` command as a user runs it. One binary, as nextest recommends.

mod plan;
mod run_item;
mod serve;
mod support;
