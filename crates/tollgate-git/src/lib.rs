//! The git CLI driver.
//!
//! Everything runs `git` from `PATH` in a controlled environment, so the
//! behaviour is the one a developer gets from the same git, without the caller's `GIT_*`
//! variables or the system config steering it. A [`Repository`] reads objects without a work
//! tree: commits by ref, trees, blobs (through one long-lived `git cat-file --batch`) and
//! gitlinks. It also writes a commit's files into a folder, or clones itself into one, for a
//! work item's sources. A [`Mirror`] is the controller's side: a bare copy of a remote that
//! fetches, merges without a work tree, writes merge commits and moves a remote branch by
//! compare-and-swap.
//!
//! Reads use the CLI too, rather than gix: one long-lived batch process answers a read in
//! microseconds, which is all planning needs, and one git implementation (the one that also
//! fetches, merges and pushes) means one behaviour and no second dependency tree to build.

mod cat_file;
mod command;
mod error;
mod mirror;
mod object_id;
mod repository;

pub use error::GitError;
pub use mirror::{CommitSummary, Identity, Merge, Mirror, Push, check_version};
pub use object_id::{CommitId, TreeOid};
pub use repository::Repository;
