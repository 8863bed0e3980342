//! Agents end to end: a controller and three agents, each a `tollgate` process of its own,
//! each agent in a network namespace the test makes or, where it cannot, on a 127.0.0.x
//! address of its own (see `net.rs`), gating real changes.

mod failures;
mod flaky;
mod net;
mod routing;
mod site;
