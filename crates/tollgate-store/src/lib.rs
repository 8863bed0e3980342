//! The artifact store: what work items produced, kept by content and found by build key.
//!
//! A work item's outputs (its archives and its log) are blobs addressed by their blake3
//! [`Digest`], so identical content is stored once, whoever produced it. The index maps a
//! build key to a [`Record`]: the outcome, the failing instruction, and the digests of the
//! outputs. Before running a work item, the executor looks its key up; a passed record is
//! reused with its artifacts instead of running anything again.
//!
//! Backends sit behind the [`Store`] trait, one module each (the sccache layout): the local
//! directory now ([`LocalStore`]), S3 or Swift later under the same path hierarchy. Whatever
//! the backend, a reader never sees a partial blob or record: everything is written under a
//! temporary name and renamed into place.
//!
//! Archives are tar compressed with zstd, whatever their Coin name says (`.tar.gz`). [`pack`]
//! writes them deterministically (no times, owners or umask in them), so that the same tree
//! gives the same blob. [`unpack`] treats them as untrusted: an archive comes from a build
//! that ran a change's code, so it is refused, naming the entry, before it writes anything
//! outside its destination.

mod archive;
mod atomic;
mod digest;
mod error;
mod local;
mod record;

use std::path::Path;

use tollgate_core::plan::BuildKey;

pub use archive::{ArchiveError, pack, unpack};
pub use digest::{Digest, ParseDigestError};
pub use error::StoreError;
pub use local::LocalStore;
pub use record::{Record, RecordFailure, RecordOutcome};

/// The artifact store. One module per backend behind this trait (sccache style); the local
/// directory now, S3/Swift later.
///
/// All methods are blocking; async callers use `spawn_blocking`. Every error is a failure of
/// the system (a disk, a network), never of the change whose outputs are stored.
pub trait Store: Send + Sync {
    /// Stores the file's bytes by their content, without moving or changing the file. The file
    /// is streamed, never read into memory whole.
    fn put_file(&self, path: &Path) -> Result<Digest, StoreError>;

    /// Stores a finished file that nothing changes any more (a work item's log) by its
    /// content; a store may keep the file itself rather than a copy, so it must stay as it
    /// is.
    fn put_finished_file(&self, path: &Path) -> Result<Digest, StoreError> {
        self.put_file(path)
    }

    /// Stores bytes by their content.
    fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError>;

    /// Copies a blob to `dest` (written under a temporary name, then renamed). Ok(false) when
    /// there is no such blob. The content is checked against its digest on the way, so a blob
    /// damaged in the store is a [`StoreError`], never an archive blamed on a change.
    fn fetch(&self, digest: &Digest, dest: &Path) -> Result<bool, StoreError>;

    /// Whether the store holds a blob.
    fn contains(&self, digest: &Digest) -> Result<bool, StoreError>;

    /// The record of a build key (the core's [`BuildKey`]), if any.
    fn record(&self, key: &BuildKey) -> Result<Option<Record>, StoreError>;

    /// Writes the record of a build key, replacing an older one, atomically.
    fn put_record(&self, key: &BuildKey, record: &Record) -> Result<(), StoreError>;
}
