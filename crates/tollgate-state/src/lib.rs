//! The controller's durable state, in SQLite (WAL).
//!
//! Every transition of the gate is one transaction that also appends its entry to the decision
//! log, and the controller commits it before it acts on it (a push, a run, a rejection). After
//! a crash the state says exactly what was decided; what was done afterwards is checked
//! against the world (the remote, the store) on restart.
//!
//! The lock ([`DataDirLock`]) keeps a second controller off the same data directory.

mod agents;
mod changes;
mod db;
mod error;
mod events;
mod fill;
mod integrations;
mod leases;
mod lock;
mod pace;
mod page;
#[cfg(test)]
mod plans;
mod projects;
mod quarantine;
mod test_history;
mod text;
mod tokens;
mod undecided;
mod views;
mod work_items;

pub use agents::KnownAgent;
pub use changes::NewChange;
pub use db::{Db, now_ms};
pub use error::StateError;
#[doc(hidden)]
pub use fill::History;
pub use integrations::{Formed, MergeOutcome, Take};
pub use leases::{ActiveLease, LeaseEnd};
pub use lock::DataDirLock;
pub use pace::{Pace, Verdict};
pub use page::Cursor;
pub use tokens::StoredToken;
pub use views::Scope;
pub use work_items::{LogSource, NewWorkItem, WorkItemEnd, log_link};
