//! A project that is a plain folder: one state, the files as they are now.

use std::fs;
use std::path::{Path, PathBuf};

use tollgate_core::source::{RepoPath, SourceError, TreeId};

use crate::sources_dir::{is_absent, unavailable};
use crate::tree_hash;

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
}
