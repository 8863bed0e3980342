//! One cached tree on disk: `<key>/tree/` holds the files, `<key>/meta` says what they are.
//!
//! ```text
//! tree <tree id>    as the sources name it: `git:3f…`
//! kind full|layer
//! base <key>        (a layer only: the full tree below it)
//! project <name>
//! bytes <n>         what the files take on disk
//! paths <n>         files, links and folders (a layer: the paths it changes)
//! layerable yes|no  (a full tree only: layers can be made over it)
//! ```
//!
//! The meta file's modification time is when the tree was last used, so the order of eviction
//! survives a restart without a write per use beyond a `utimensat`.

use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use tollgate_core::source::TreeId;

/// What a cached tree is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub tree: String,
    /// The tree it is a layer over; `None` for a full tree.
    pub base: Option<String>,
    pub project: String,
    pub bytes: u64,
    pub paths: u64,
    pub layerable: bool,
}

/// The folder name of a tree: `git:3f…` → `git-3f…`; anything but `[A-Za-z0-9._-]` becomes
/// `_`, and the id is in the meta file's folder only, never parsed back.
pub(crate) fn key(tree: &TreeId) -> String {
    tree.as_str()
        .chars()
        .map(|c| match c {
            ':' => '-',
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') => c,
            _ => '_',
        })
        .collect()
}

impl Meta {
    pub(crate) fn write(&self, path: &Path) -> io::Result<()> {
        let mut text = format!("tree {}\n", self.tree);
        match &self.base {
            Some(base) => text.push_str(&format!("kind layer\nbase {base}\n")),
            None => text.push_str("kind full\n"),
        }
        let layerable = if self.layerable { "yes" } else { "no" };
        text.push_str(&format!(
            "project {}\nbytes {}\npaths {}\nlayerable {layerable}\n",
            self.project, self.bytes, self.paths
        ));
        fs::write(path, text)
    }

    /// The meta file and when it was last used; `None` when it is not one this code wrote.
    pub(crate) fn read(path: &Path) -> Option<(Meta, SystemTime)> {
        let text = fs::read_to_string(path).ok()?;
        let used = fs::metadata(path).ok()?.modified().ok()?;
        let field =
            |name: &str| text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' '));
        let base = match field("kind")? {
            "full" => None,
            "layer" => Some(field("base")?.to_owned()),
            _ => return None,
        };
        let meta = Meta {
            tree: field("tree")?.to_owned(),
            base,
            project: field("project")?.to_owned(),
            bytes: field("bytes")?.parse().ok()?,
            paths: field("paths")?.parse().ok()?,
            layerable: field("layerable")? == "yes",
        };
        Some((meta, used))
    }

    /// Marks the tree used now.
    pub(crate) fn touch(path: &Path) -> io::Result<()> {
        fs::File::options().write(true).open(path)?.set_modified(SystemTime::now())
    }
}

/// What the files under `dir` take on disk (allocated blocks) and how many paths there are;
/// links are not followed.
pub(crate) fn measure(dir: &Path) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let (mut bytes, mut paths) = (0, 0);
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder)? {
            let entry = entry?;
            let metadata = entry.metadata()?;
            bytes += metadata.blocks() * 512;
            paths += 1;
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok((bytes, paths))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta");
        let layer = Meta {
            tree: "git:def".to_owned(),
            base: Some("git-abc".to_owned()),
            project: "qt/qtbase".to_owned(),
            bytes: 4096,
            paths: 3,
            layerable: false,
        };
        layer.write(&path).unwrap();
        assert_eq!(Meta::read(&path).unwrap().0, layer);
        fs::write(&path, "kind other\n").unwrap();
        assert_eq!(Meta::read(&path), None);
    }

    #[test]
    fn keys_are_folder_names() {
        assert_eq!(key(&TreeId::new("git:3f00")), "git-3f00");
        assert_eq!(key(&TreeId::new("blake3:../x y")), "blake3-.._x_y");
    }
}
