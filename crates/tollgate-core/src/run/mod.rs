//! Running a planned work item, without doing any I/O.
//!
//! A [`Session`] walks a work item's expanded instructions in order. It does what needs no
//! machine by itself: it decides runtime conditions against the live environment, applies
//! `EnvironmentVariable` and its kin, renders templates, splits command lines and resolves
//! paths. Everything that touches the machine (a process, a directory, a file, an archive) comes
//! out as an [`Action`] for the executor, which performs it and hands back a [`Report`]. The
//! session also decides what a report means: the first failure stops the work item, an
//! `executeOn: always` instruction still runs, `ignoreExitCode` forgives an exit code but not a
//! timeout, and a system error ends the run as the system's fault, never the change's.
//!
//! So Coin's run-time semantics (COIN-FORMAT.md §5, §7.2, §9, §13 behaviours 5–9) are pure
//! functions tested with data, and every executor (local sandbox, VM, remote agent) shares them.

mod action;
mod layout;
mod provided;
mod session;
mod verdict;

pub use action::{Action, ArchiveSource, Execute, Report, Timeout};
pub use layout::Layout;
pub use provided::{artifact_path, provided_variables};
pub use session::{Note, Session, Step};
pub use verdict::{Failure, Outcome, Verdict};
