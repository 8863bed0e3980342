//! The `tollgate` command as a user runs it. One binary, as nextest recommends.

mod plan;
mod reproduce;
mod run_item;
mod serve;
mod site;
mod support;
