//! What can go wrong in the store. Every variant is a failure of the system: a missing blob or
//! record is `Ok(false)` or `Ok(None)`, never an error, so a caller can turn any `StoreError`
//! into an `Error` outcome without asking which one it is.

use std::io;
use std::path::{Path, PathBuf};

use crate::Digest;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed; `action` says which ("cannot read", "cannot rename", ...).
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },

    /// A record in the index is not valid JSON for a [`Record`](crate::Record).
    #[error("corrupt record {path}: {source}")]
    CorruptRecord { path: PathBuf, source: serde_json::Error },

    /// A record could not be written as JSON.
    #[error("cannot encode the record for {path}: {source}")]
    EncodeRecord { path: PathBuf, source: serde_json::Error },

    /// A blob's content no longer matches its name: the store's disk damaged it.
    #[error("corrupt blob {path}: its content hashes to {actual}")]
    CorruptBlob { path: PathBuf, actual: Digest },
}

/// An I/O failure with what was being done and to which path. Shared by the store and the
/// archive code, which each turn it into their own error.
#[derive(Debug)]
pub(crate) struct IoFailure {
    pub(crate) action: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) source: io::Error,
}

impl IoFailure {
    /// `map_err(IoFailure::at("cannot read", path))`.
    pub(crate) fn at(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> IoFailure {
        move |source| IoFailure { action, path: path.to_owned(), source }
    }
}

impl From<IoFailure> for StoreError {
    fn from(failure: IoFailure) -> StoreError {
        StoreError::Io { action: failure.action, path: failure.path, source: failure.source }
    }
}
