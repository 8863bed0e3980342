use std::path::PathBuf;

/// What can go wrong with the state. `Database` and `Io` are the system's fault; the others
/// are answers to the caller.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "another tollgate serve is running on the data directory {dir}{holder}; stop it first, or use another --data-dir"
    )]
    Locked { dir: PathBuf, holder: String },
    #[error(
        "the state database {path} has version {found}; this tollgate knows versions up to {known}"
    )]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}
