//! The tree id of a plain folder: a blake3 hash over a canonical walk, so that the same
//! content gives the same id on any machine and any change to it gives another.
//!
//! Entries are taken in the order of their relative paths (bytes, `/`-separated), `.git`
//! skipped at every level. Each entry adds its kind, its path, and then: for a file, its
//! content's own blake3 hash (the executable bit is in the kind, as git records it); for a
//! symlink, its target, never followed. Lengths prefix variable parts, so no two trees encode
//! alike.

use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tollgate_core::source::{SourceError, TreeId};

use crate::sources_dir::unavailable;

/// Bumped when the encoding changes, so that old ids never match new ones.
const ENCODING: &[u8] = b"tollgate plain folder v1\0";

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Folder,
    File,
    Executable,
    Symlink,
    /// Sockets, fifos, devices: present, but without content we could read.
    Other,
}

impl Kind {
    fn tag(self) -> u8 {
        match self {
            Kind::Folder => b'd',
            Kind::File => b'f',
            Kind::Executable => b'x',
            Kind::Symlink => b'l',
            Kind::Other => b'o',
        }
    }
}

pub(crate) struct Entry {
    /// `/`-separated, from the root.
    pub(crate) relative: Vec<u8>,
    pub(crate) path: PathBuf,
    pub(crate) kind: Kind,
}

pub(crate) fn folder_tree_id(root: &Path) -> Result<TreeId, SourceError> {
    let mut entries = walk(root)?;
    entries.sort_unstable_by(|a, b| a.relative.cmp(&b.relative));

    let mut tree = blake3::Hasher::new();
    tree.update(ENCODING);
    for entry in &entries {
        tree.update(&[entry.kind.tag()]);
        update_sized(&mut tree, &entry.relative);
        match entry.kind {
            Kind::File | Kind::Executable => {
                let content = hash_file(&entry.path).map_err(|e| unavailable(&entry.path, &e))?;
                tree.update(content.as_bytes());
            }
            Kind::Symlink => {
                let target =
                    fs::read_link(&entry.path).map_err(|e| unavailable(&entry.path, &e))?;
                update_sized(&mut tree, target.as_os_str().as_bytes());
            }
            Kind::Folder | Kind::Other => {}
        }
    }
    Ok(TreeId::new(format!("blake3:{}", tree.finalize().to_hex())))
}

/// Every entry under `root`, without following symlinks, in no particular order. The one
/// definition of a plain folder's content: hashed here, exported by `PlainFolder::export`.
pub(crate) fn walk(root: &Path) -> Result<Vec<Entry>, SourceError> {
    let mut entries = Vec::new();
    let mut folders = vec![(root.to_owned(), Vec::new())];
    while let Some((folder, relative)) = folders.pop() {
        let listing = fs::read_dir(&folder).map_err(|e| unavailable(&folder, &e))?;
        for item in listing {
            let item = item.map_err(|e| unavailable(&folder, &e))?;
            let name = item.file_name();
            if name == ".git" {
                continue;
            }
            let path = item.path();
            // `DirEntry::metadata` does not follow symlinks.
            let metadata = item.metadata().map_err(|e| unavailable(&path, &e))?;
            let mut child = relative.clone();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(name.as_bytes());
            let file_type = metadata.file_type();
            let kind = if file_type.is_dir() {
                folders.push((path.clone(), child.clone()));
                Kind::Folder
            } else if file_type.is_symlink() {
                Kind::Symlink
            } else if file_type.is_file() {
                // git's rule: executable when the owner may execute.
                let executable = metadata.permissions().mode() & 0o100 != 0;
                if executable { Kind::Executable } else { Kind::File }
            } else {
                Kind::Other
            };
            entries.push(Entry { relative: child, path, kind });
        }
    }
    Ok(entries)
}

fn hash_file(path: &Path) -> io::Result<blake3::Hash> {
    let mut content = blake3::Hasher::new();
    content.update_reader(File::open(path)?)?;
    Ok(content.finalize())
}

fn update_sized(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}
