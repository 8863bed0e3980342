//! The git CLI driver.
//!
//! Everything runs `git` from `PATH` in a controlled environment, so the
//! behaviour is the one a developer gets from the same git, without the caller's `GIT_*`
//! variables or the system config steering it. A [`Repository`] reads objects without a work
//! tree: names resolved, commits, trees, blobs and gitlinks, all through long-lived
//! `git cat-file --batch-command` processes. It also writes a commit's files into a folder
//! (from those reads when no checkout conversion can apply, else with `checkout-index`), or
//! clones itself into one, for a work item's sources. A [`Mirror`] is the controller's side: a
//! bare copy of a remote that fetches, merges without a work tree, writes merge commits, moves
//! its own refs through one long-lived `update-ref --stdin`, and moves remote branches by
//! compare-and-swap, several in one push.
//!
//! Reads use the CLI too, rather than gix: one long-lived batch process answers a read in
//! microseconds, which is all planning and the gate need, and one git implementation (the one
//! that also fetches, merges and pushes) means one behaviour and no second dependency tree to
//! build. A git process per step would cost more than the step: on two cores, starting git a
//! dozen times per integration was most of the gate's time.

mod cat_file;
mod command;
mod commit;
mod conversion;
mod error;
mod export;
mod layer;
mod mirror;
mod object_id;
mod piped;
mod ref_name;
mod refs;
mod repository;
#[cfg(test)]
mod test_git;
mod tree;
mod wire;

pub use commit::CommitInfo;
pub use error::GitError;
pub use mirror::{BranchMove, CommitSummary, Identity, Merge, Mirror, Push, check_version};
pub use object_id::{CommitId, TreeOid};
pub use repository::{Repository, Written};
pub use wire::{fetch_commits, upload_pack};
