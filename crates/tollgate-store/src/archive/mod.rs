//! Archives: a folder as tar compressed with zstd, and back.
//!
//! Coin names its archives `.tar.gz`; the names are kept (instructions and users refer to
//! them) but the bytes are tar+zstd: faster to make and to read, and smaller.
//!
//! [`pack`] is deterministic: entries in name order, no times, owners or umask, only the
//! executable bit of a mode. The same tree gives the same bytes, so the same blob.
//!
//! [`unpack`] does not trust the archive. It comes from a build that ran a change's code, and
//! it is unpacked next to the workspaces of others, so every entry is checked before anything
//! is written, and nothing is ever written through a symlink. The tar crate's own `unpack`
//! is not used: its rules are not ours (it skips `..` entries in silence, it keeps
//! permissions and times), and the checks are easier to trust when they sit in one place.

mod error;
mod pack;
mod unpack;
mod watched;

pub use error::ArchiveError;
pub use pack::pack;
pub use unpack::unpack;

/// The zstd level: the library's default, about as fast as the disk for a build tree.
const ZSTD_LEVEL: i32 = 3;
