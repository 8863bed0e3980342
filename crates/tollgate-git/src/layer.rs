//! An overlay layer: what must lie over an export of one tree so that the two read as an
//! export of another, found by comparing the trees and descending only where their ids differ.
//!
//! A layer holds the files that are new or changed, the folders on their way, and a whiteout
//! (a character device 0:0, overlayfs's mark for "deleted") for each path that is gone. Its
//! cost follows the changed paths, not the size of the tree: a subtree whose id did not change
//! is never read.
//!
//! Only what an export from objects would write exactly (see [`crate::export`]) goes into a
//! layer; anything git would write itself, and a folder that became a submodule (it would need
//! an opaque folder), makes [`Export::layer`] answer `None`, and the tree is exported in full.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::export::{Export, Item, defers_to_git, io_error, is_hostile};
use crate::tree::{self, Kind};
use crate::{GitError, TreeOid};

/// What a layer holds, below its folder.
#[derive(Debug, Default)]
pub(crate) struct Layer {
    /// Folders to make, each after its parent.
    folders: Vec<PathBuf>,
    files: Vec<Item>,
    whiteouts: Vec<PathBuf>,
}

impl Layer {
    /// The paths the layer changes: files and links written, and paths removed.
    pub(crate) fn changed(&self) -> usize {
        self.files.len() + self.whiteouts.len()
    }
}

/// Two folders to compare: the base's tree there (`None` when the base has no folder there,
/// or an empty one), the new tree, and where they are.
struct Pair {
    base: Option<String>,
    tree: String,
    folder: PathBuf,
}

impl Export<'_> {
    /// What must lie over an export of `base` to read as an export of `tree`; `None` when a
    /// layer cannot reproduce the export exactly.
    pub(crate) fn layer(&self, base: &TreeOid, tree: &TreeOid) -> Result<Option<Layer>, GitError> {
        let mut layer = Layer::default();
        let mut level = vec![Pair {
            base: Some(base.as_str().to_owned()),
            tree: tree.as_str().to_owned(),
            folder: PathBuf::new(),
        }];
        // A level of folders at a time, so that the trees are read in few round trips.
        while !level.is_empty() {
            let wanted: Vec<_> = level
                .iter()
                .flat_map(|pair| pair.base.iter().map(|id| (id.as_str(), &pair.folder)))
                .chain(level.iter().map(|pair| (pair.tree.as_str(), &pair.folder)))
                .collect();
            let mut raws = self.objects(&wanted, "tree")?.into_iter();
            let bases: Vec<_> = level
                .iter()
                .map(|pair| pair.base.as_ref().map(|_| raws.next().unwrap_or_default()))
                .collect();
            let mut next = Vec::new();
            for ((pair, base), raw) in level.iter().zip(bases).zip(raws) {
                if !self.compare(pair, base.as_deref(), &raw, &mut layer, &mut next)? {
                    return Ok(None);
                }
            }
            level = next;
        }
        Ok(Some(layer))
    }

    /// Adds to `layer` what differs in one folder, and to `next` the subfolders to compare;
    /// `false` when the layer cannot be exact.
    fn compare(
        &self,
        pair: &Pair,
        base: Option<&[u8]>,
        raw: &[u8],
        layer: &mut Layer,
        next: &mut Vec<Pair>,
    ) -> Result<bool, GitError> {
        let hex_len = self.commit.as_str().len();
        let malformed = |id: &str| self.corrupt(&pair.folder, &format!("tree {id} is malformed"));
        let entries = tree::entries(raw, hex_len).ok_or_else(|| malformed(&pair.tree))?;
        let mut old = HashMap::new();
        if let Some(base) = base {
            let base_entries = tree::entries(base, hex_len)
                .ok_or_else(|| malformed(pair.base.as_deref().unwrap_or_default()))?;
            old.extend(base_entries.into_iter().map(|entry| (entry.name, (entry.kind, entry.id))));
        }
        let mut names = HashSet::new();
        for entry in entries {
            let path = pair.folder.join(OsStr::from_bytes(entry.name));
            if is_hostile(entry.name) {
                let name = format!("{}:{}", self.commit, path.display());
                return Err(GitError::Invalid { what: "path", name });
            }
            if defers_to_git(entry.name, entry.kind) || !names.insert(entry.name) {
                return Ok(false);
            }
            let before = old.remove(entry.name);
            if before.as_ref().is_some_and(|(kind, id)| *kind == entry.kind && *id == entry.id) {
                continue;
            }
            match (entry.kind, before) {
                // Only a folder merges with the folder below it.
                (Kind::Tree, Some((Kind::Tree, id))) => {
                    layer.folders.push(path.clone());
                    next.push(Pair { base: Some(id), tree: entry.id, folder: path });
                }
                (Kind::Tree, _) => {
                    layer.folders.push(path.clone());
                    next.push(Pair { base: None, tree: entry.id, folder: path });
                }
                // A submodule is an empty folder, and nothing below may show through it.
                (Kind::Gitlink, Some((Kind::Tree, _))) => return Ok(false),
                (Kind::Gitlink, Some((Kind::Gitlink, _))) => {}
                (Kind::Gitlink, _) => layer.folders.push(path),
                (kind, _) => layer.files.push(Item { path, kind, id: entry.id }),
            }
        }
        let gone = old.into_keys().map(|name| pair.folder.join(OsStr::from_bytes(name)));
        layer.whiteouts.extend(gone);
        Ok(true)
    }

    /// Writes `layer` into `dest`, an existing empty folder: folders as an export makes them,
    /// whiteouts, then the files as git hands them over.
    pub(crate) fn write_layer(&self, layer: &Layer, dest: &Path) -> Result<(), GitError> {
        for folder in &layer.folders {
            let path = dest.join(folder);
            fs::create_dir(&path).map_err(io_error(&path))?;
        }
        for gone in &layer.whiteouts {
            let path = dest.join(gone);
            whiteout(&path).map_err(io_error(&path))?;
        }
        let files: Vec<_> = layer.files.iter().collect();
        self.write_files(&files, dest)
    }
}

/// overlayfs's whiteout: a character device with device number 0:0, which Linux lets any user
/// make (since 5.8).
fn whiteout(path: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, FileType, Mode, makedev, mknodat};
    mknodat(CWD, path, FileType::CharacterDevice, Mode::empty(), makedev(0, 0))?;
    Ok(())
}
