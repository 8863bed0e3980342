//! What can go wrong when driving git. "Not found" is not here: reads return `Ok(None)` for a
//! ref, path or object that does not exist, so that every error is a failure of the system.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started (not installed, or the repository folder is gone).
    #[error("cannot run `git {command}` in {repo}: {source}")]
    Spawn { repo: PathBuf, command: String, source: io::Error },

    /// git ran and failed.
    #[error("`git {command}` failed in {repo} ({status}): {stderr}")]
    Failed { repo: PathBuf, command: String, status: ExitStatus, stderr: String },

    /// Talking to a running git failed, or it died (the long-lived `cat-file --batch`).
    #[error("`git {command}` in {repo} stopped answering: {detail}")]
    Broken { repo: PathBuf, command: String, detail: String },

    /// git printed something we do not understand.
    #[error("`git {command}` in {repo} printed unexpected output: {output:?}")]
    Output { repo: PathBuf, command: String, output: String },

    /// A name or URL that is not handed to git: git would refuse it, or read it as an option
    /// or a pattern. A caller's mistake or a bad configuration, never a missing ref.
    #[error("{what} {name:?} is not valid")]
    Invalid { what: &'static str, name: String },

    /// The git on `PATH` lacks a command this crate needs; found at startup, not mid-merge.
    #[error("tollgate needs git {needed} or newer for {feature}; found {found} at {path}")]
    Version { needed: String, feature: &'static str, found: String, path: PathBuf },

    /// Looking at the repository folder itself failed.
    #[error("cannot inspect {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}
