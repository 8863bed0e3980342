//! A project that is a plain folder: one state, the files as they are now.

use std::ffi::OsStr;
use std::fs::{self, Permissions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use tollgate_core::source::{RepoPath, SourceError, TreeId};

use crate::sources_dir::{is_absent, unavailable};
use crate::tree_hash::{self, Kind};

pub(crate) struct PlainFolder {
    /// Canonical, so that a project folder that is itself a symlink (to a checkout elsewhere)
    /// still contains its own files.
    root: PathBuf,
}

impl PlainFolder {
    pub(crate) fn open(folder: &Path) -> Result<PlainFolder, SourceError> {
        let root = fs::canonicalize(folder).map_err(|error| unavailable(folder, &error))?;
        Ok(PlainFolder { root })
    }

    /// Symlinks are followed while they stay inside the project. A path that leads out of it
    /// reads as no file, not as an error: the project's content is what lies inside it (git
    /// would store the link, never the target), and nothing is wrong with the system. So a
    /// link to `~/.ssh` or `/etc` can never be read as configuration.
    pub(crate) fn read(&self, path: &RepoPath) -> Result<Option<Vec<u8>>, SourceError> {
        let full = self.root.join(path.as_str());
        let real = match fs::canonicalize(&full) {
            Ok(real) => real,
            Err(error) if is_absent(&error) => return Ok(None),
            Err(error) => return Err(unavailable(&full, &error)),
        };
        if !real.starts_with(&self.root) {
            return Ok(None);
        }
        // Only regular files: reading a folder fails, and reading a fifo would wait for ever.
        match fs::metadata(&real) {
            Ok(metadata) if metadata.is_file() => {}
            Ok(_) => return Ok(None),
            Err(error) if is_absent(&error) => return Ok(None),
            Err(error) => return Err(unavailable(&full, &error)),
        }
        match fs::read(&real) {
            Ok(content) => Ok(Some(content)),
            Err(error) if is_absent(&error) => Ok(None),
            Err(error) => Err(unavailable(&full, &error)),
        }
    }

    pub(crate) fn tree_id(&self) -> Result<TreeId, SourceError> {
        tree_hash::folder_tree_id(&self.root)
    }

    /// Copies the project's files into `dest`, an empty folder: exactly what the tree id
    /// hashes, so `.git` is left out at every level, a symlink is copied as the link (wherever
    /// it points, even out of the project, it is never followed), and a file gets 0755 or 0644
    /// by its executable bit, as a git checkout would write it. Sockets, fifos and devices have
    /// no content and are left out. Copies, never hard links, so that a build cannot write
    /// into the sources. On error `dest` may hold part of the tree.
    pub(crate) fn export(&self, dest: &Path) -> Result<(), SourceError> {
        let mut entries = tree_hash::walk(&self.root)?;
        // A folder sorts before everything inside it, so it exists before its content.
        entries.sort_unstable_by(|a, b| a.relative.cmp(&b.relative));
        for entry in &entries {
            let target = dest.join(OsStr::from_bytes(&entry.relative));
            let written = match entry.kind {
                Kind::Folder => fs::create_dir(&target),
                Kind::File => copy_file(&entry.path, &target, 0o644),
                Kind::Executable => copy_file(&entry.path, &target, 0o755),
                Kind::Symlink => fs::read_link(&entry.path).and_then(|to| symlink(to, &target)),
                Kind::Other => Ok(()),
            };
            written.map_err(|error| {
                let (from, to) = (entry.path.display(), target.display());
                SourceError::Unavailable(format!("cannot copy {from} to {to}: {error}"))
            })?;
        }
        Ok(())
    }
}

fn copy_file(from: &Path, to: &Path, mode: u32) -> io::Result<()> {
    // `fs::copy` takes the source's mode; the export's mode depends on the executable bit only.
    fs::copy(from, to)?;
    fs::set_permissions(to, Permissions::from_mode(mode))
}
