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

    /// Looking at the repository folder itself failed.
    #[error("cannot inspect {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}
