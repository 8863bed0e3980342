//! The sources folder: where tollgate finds the projects it plans for.
//!
//! A project `qt/qtbase` lives at `<root>/qt/qtbase`. That folder is either a git repository,
//! read from git objects at any revision, or a plain folder, read as it is now whatever the
//! revision. [`SourcesDir`] implements the core's [`Source`](tollgate_core::source::Source)
//! over both, and writes a project's files at a revision into a folder (or clones it there)
//! for a work item's sources.

mod git_project;
mod plain_folder;
mod sources_dir;
mod tree_hash;

pub use sources_dir::SourcesDir;
