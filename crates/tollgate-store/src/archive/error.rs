//! What can go wrong with an archive, split by whose fault it is: the executor fails the change
//! for an archive it built or unpacked that is malicious or broken, and reports a system error
//! for everything else.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// An entry that would write outside the destination, or make something refused there (a
    /// device, a fifo, a link out). The archive's fault.
    #[error("unsafe archive entry `{entry}`: {reason}")]
    Unsafe { entry: String, reason: String },

    /// The archive is not valid tar+zstd: truncated, damaged, or not an archive at all. The
    /// archive's fault.
    #[error("corrupt archive {archive}: {detail}")]
    Corrupt { archive: PathBuf, detail: String },

    /// The folder to pack does not exist, or is not a folder: the instructions asked to upload
    /// something the build did not make. The change's fault.
    #[error("cannot pack {path}: no such folder")]
    MissingDir { path: PathBuf },

    /// A file operation failed: a disk, a permission. The system's fault.
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

impl ArchiveError {
    /// Whether this is a failure of the system (I/O) rather than of the archive or of the
    /// folder it was asked to pack.
    pub fn is_system(&self) -> bool {
        match self {
            ArchiveError::Unsafe { .. }
            | ArchiveError::Corrupt { .. }
            | ArchiveError::MissingDir { .. } => false,
            ArchiveError::Io { .. } => true,
        }
    }
}

impl From<crate::error::IoFailure> for ArchiveError {
    fn from(failure: crate::error::IoFailure) -> ArchiveError {
        ArchiveError::Io { action: failure.action, path: failure.path, source: failure.source }
    }
}
