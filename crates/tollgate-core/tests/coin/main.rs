//! Tests of the core against Qt's real Coin files. One binary, as nextest recommends.

mod behaviours;
mod diagnostics;
mod fixtures;
mod forms;
mod robustness;
mod runtime;
mod session;
mod snapshots;
