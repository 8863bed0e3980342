//! Writing a file so that no reader ever sees it half-written: a temporary file in a folder on
//! the same filesystem (so that rename is atomic), then fsync, rename into place, and fsync of
//! the folder, so that the new name survives a crash as well as the content.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::IoFailure;

/// Makes temporary names unique within the process; the process id makes them unique between
/// processes.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A file being written under a temporary name. Dropped without [`persist`](Self::persist), it
/// is removed.
pub(crate) struct TempFile {
    path: PathBuf,
    file: File,
    placed: bool,
}

impl TempFile {
    /// A new, empty file `<dir>/<stem>.<pid>.<n>.tmp`.
    pub(crate) fn create_in(dir: &Path, stem: &str) -> Result<TempFile, IoFailure> {
        let pid = process::id();
        let mut attempts = 0;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{stem}.{pid}.{n}.tmp"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok(TempFile { path, file, placed: false }),
                // Left by a crashed process that had our pid: take the next number.
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                    attempts += 1;
                }
                Err(error) => return Err(IoFailure::at("cannot create", &path)(error)),
            }
        }
    }

    /// A second name `<dir>/<stem>.<pid>.<n>.tmp` for the file at `source`, the same file (a
    /// hard link); `None` when `dir` is on another filesystem, or the filesystem has no hard
    /// links.
    pub(crate) fn link_in(
        dir: &Path,
        stem: &str,
        source: &Path,
    ) -> Result<Option<TempFile>, IoFailure> {
        let pid = process::id();
        let mut attempts = 0;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{stem}.{pid}.{n}.tmp"));
            match fs::hard_link(source, &path) {
                Ok(()) => {
                    let file = File::open(&path).map_err(IoFailure::at("cannot open", &path))?;
                    return Ok(Some(TempFile { path, file, placed: false }));
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                    attempts += 1;
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::CrossesDevices | io::ErrorKind::Unsupported
                    ) || error.raw_os_error() == Some(1) =>
                {
                    return Ok(None);
                }
                Err(error) => return Err(IoFailure::at("cannot link", &path)(error)),
            }
        }
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the content durable, renames it to `dest` (replacing what is there), and makes
    /// the new name durable.
    pub(crate) fn persist(self, dest: &Path) -> Result<(), IoFailure> {
        self.file.sync_all().map_err(IoFailure::at("cannot sync", &self.path))?;
        self.rename_to(dest)?;
        sync_dir(parent_of(dest))
    }

    /// Renames it to `dest` without waiting for the disk: for working copies that a crash
    /// makes worthless anyway. Readers still never see a partial file.
    pub(crate) fn rename_to(mut self, dest: &Path) -> Result<(), IoFailure> {
        fs::rename(&self.path, dest).map_err(IoFailure::at("cannot rename into place", dest))?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.placed {
            // Best effort: a leftover is harmless, and LocalStore::open clears old ones.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Makes the entries of a folder (a new or renamed file in it) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), IoFailure> {
    File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(IoFailure::at("cannot sync folder", dir))
}

/// The folder a path is in: `.` for a bare file name.
pub(crate) fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `.<file name>` for a temporary file next to `dest`, hidden from a casual `ls`.
pub(crate) fn hidden_stem(dest: &Path) -> String {
    let name = dest.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    format!(".{name}")
}
