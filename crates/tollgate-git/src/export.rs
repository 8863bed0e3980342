//! Writes a commit's files from its objects, read through the batch process: no git process,
//! no scratch index, no temporary folder per work item.
//!
//! Only for trees a checkout would write byte for byte as their blobs hold them (see
//! [`crate::conversion`]), and only with the names `read-tree` lets through: anything this
//! path does not reproduce exactly is left to git's `read-tree` and `checkout-index`. The whole
//! tree is read and its names checked before anything is written.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, symlink};
use std::path::{Path, PathBuf};

use crate::cat_file::{self, Object, ObjectReader};
use crate::tree::{self, Kind};
use crate::{CommitId, GitError, TreeOid, command};

/// One thing to write, below the folder of the export.
#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) path: PathBuf,
    pub(crate) kind: Kind,
    pub(crate) id: String,
}

/// The export of one commit from one repository.
pub(crate) struct Export<'a> {
    pub(crate) objects: &'a ObjectReader,
    pub(crate) repo: &'a Path,
    pub(crate) commit: &'a CommitId,
}

impl Export<'_> {
    /// What writing `tree` takes, each folder before what it holds; `None` when git must do it:
    /// the tree holds `.gitattributes`, a name git may refuse or treat specially beyond those
    /// refused here (see [`defers_to_git`]), or a name twice in one folder. Names that would
    /// write outside the folder, or into a `.git`, are an error, as in `read-tree`.
    pub(crate) fn plan(&self, tree: &TreeOid) -> Result<Option<Vec<Item>>, GitError> {
        let mut items = Vec::new();
        // A level of folders at a time, so that the trees are read in few round trips.
        let mut level = vec![(tree.as_str().to_owned(), PathBuf::new())];
        while !level.is_empty() {
            let wanted: Vec<_> = level.iter().map(|(id, folder)| (id.as_str(), folder)).collect();
            let trees = self.objects(&wanted, "tree")?;
            let mut next = Vec::new();
            for ((id, folder), raw) in level.iter().zip(&trees) {
                let entries = tree::entries(raw, self.commit.as_str().len())
                    .ok_or_else(|| self.corrupt(folder, &format!("tree {id} is malformed")))?;
                let mut names = HashSet::new();
                for entry in entries {
                    let path = folder.join(OsStr::from_bytes(entry.name));
                    if is_hostile(entry.name) {
                        let name = format!("{}:{}", self.commit, path.display());
                        return Err(GitError::Invalid { what: "path", name });
                    }
                    if defers_to_git(entry.name, entry.kind) || !names.insert(entry.name) {
                        return Ok(None);
                    }
                    if entry.kind == Kind::Tree {
                        next.push((entry.id.clone(), path.clone()));
                    }
                    items.push(Item { path, kind: entry.kind, id: entry.id });
                }
            }
            level = next;
        }
        Ok(Some(items))
    }

    /// Writes `items` into `dest`, an existing empty folder, as `checkout-index` writes them: a
    /// file with mode 0666, or 0777 when executable, and a folder with 0777, all less the
    /// umask; a symlink to the blob's content; a gitlink as an empty folder. Nothing already
    /// there is overwritten or followed. The folders first, then each file as git hands it over.
    pub(crate) fn write(&self, items: &[Item], dest: &Path) -> Result<(), GitError> {
        let (folders, files): (Vec<_>, Vec<_>) =
            items.iter().partition(|item| matches!(item.kind, Kind::Tree | Kind::Gitlink));
        for folder in folders {
            let path = dest.join(&folder.path);
            fs::create_dir(&path).map_err(io_error(&path))?;
        }
        self.write_files(&files, dest)
    }

    /// Writes each of `files` (no folders) below `dest`, whose folders exist, as
    /// [`Self::write`] does.
    pub(crate) fn write_files(&self, files: &[&Item], dest: &Path) -> Result<(), GitError> {
        let ids: Vec<_> = files.iter().map(|file| file.id.as_str()).collect();
        self.objects.read_each(&ids, |index, blob| {
            let file = files[index];
            let content = self.checked(&file.id, &file.path, "blob", blob)?;
            let path = dest.join(&file.path);
            let mode = match file.kind {
                Kind::Symlink => {
                    let target = OsStr::from_bytes(&content);
                    return symlink(target, &path).map_err(io_error(&path));
                }
                Kind::Executable => 0o777,
                _ => 0o666,
            };
            let mut options = OpenOptions::new();
            options.write(true).create_new(true).mode(mode);
            let mut written = options.open(&path).map_err(io_error(&path))?;
            written.write_all(&content).map_err(io_error(&path))
        })
    }

    /// The contents of the objects `wanted` (an id, and where the tree has it), which the trees
    /// say are of type `kind`.
    pub(crate) fn objects(
        &self,
        wanted: &[(&str, &PathBuf)],
        kind: &str,
    ) -> Result<Vec<Vec<u8>>, GitError> {
        let ids: Vec<_> = wanted.iter().map(|(id, _)| *id).collect();
        let answers = self.objects.read_many(&ids)?;
        let checked = wanted.iter().zip(answers);
        checked.map(|((id, path), answer)| self.checked(id, path, kind, answer)).collect()
    }

    /// The content of object `id`, at `path` in the tree, which the tree says is a `kind`.
    fn checked(
        &self,
        id: &str,
        path: &Path,
        kind: &str,
        answer: Option<Object>,
    ) -> Result<Vec<u8>, GitError> {
        match answer {
            Some((found, content)) if found == kind => Ok(content),
            Some((found, _)) => {
                Err(self.corrupt(path, &format!("{id} is a {found}, not a {kind}")))
            }
            None => Err(self.corrupt(path, &format!("{kind} {id} is missing"))),
        }
    }

    pub(crate) fn corrupt(&self, path: &Path, what: &str) -> GitError {
        GitError::Output {
            repo: self.repo.to_owned(),
            command: command::describe(&cat_file::ARGS),
            output: format!("{}:{}: {what}", self.commit, path.display()),
        }
    }
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> GitError + use<> {
    let path = path.to_owned();
    move |source| GitError::Io { path, source }
}

/// A name `read-tree` refuses everywhere, because writing it would leave the folder or write
/// into a repository: empty, `.`, `..`, `.git` in any case, or holding a `/`.
pub(crate) fn is_hostile(name: &[u8]) -> bool {
    matches!(name, b"" | b"." | b"..") || name.eq_ignore_ascii_case(b".git") || name.contains(&b'/')
}

/// Whether git might refuse `name`, or read it, where this path would write it: the other
/// spellings of `.git` that `core.protectNTFS` (on by default) and `core.protectHFS` refuse
/// (`.git.`, `git~1`, `.git::$INDEX_ALLOCATION`, `.g\u{200c}it`), a backslash, a `.gitmodules`
/// symlink, and `.gitattributes`. Matching more than git does costs only git's slower path.
pub(crate) fn defers_to_git(name: &[u8], kind: Kind) -> bool {
    // HFS ignores some Unicode code points in names: compare without any non-ASCII.
    let folded: Vec<u8> =
        name.iter().filter(|b| b.is_ascii()).map(u8::to_ascii_lowercase).collect();
    let symlink = kind == Kind::Symlink;
    if name.contains(&b'\\') || folded.starts_with(b"git~") {
        return true;
    }
    if symlink && (folded.starts_with(b"gitmod~") || folded.starts_with(b"gi7eba~")) {
        return true;
    }
    let Some(rest) = folded.strip_prefix(b".git") else { return false };
    // NTFS drops trailing spaces and dots, and reads `:` as the start of a stream name.
    let tail = &rest[rest.iter().take_while(|b| matches!(b, b' ' | b'.')).count()..];
    tail.is_empty()
        || tail.starts_with(b":")
        || rest == b"attributes"
        || (symlink && rest.starts_with(b"modules"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused_and_odd_ones_left_to_git() {
        for name in [&b""[..], b".", b"..", b".git", b".GIT", b".Git", b"a/b", b"/"] {
            assert!(is_hostile(name), "{name:?}");
        }
        for name in [&b"..."[..], b".git.", b".gitx", b"git", b"a..b"] {
            assert!(!is_hostile(name), "{name:?}");
        }
        let odd = [
            &b".git."[..],
            b".GIT  ",
            b"git~1",
            b"GIT~2",
            b".git::$INDEX_ALLOCATION",
            b".g\xe2\x80\x8cit",
            b"a\\b",
            b".gitattributes",
            b".GitAttributes",
        ];
        for name in odd {
            assert!(defers_to_git(name, Kind::File), "{:?}", String::from_utf8_lossy(name));
        }
        for name in [&b".gitmodules"[..], b".gitmodules .", b"gitmod~1", b"GI7EBA~1"] {
            assert!(defers_to_git(name, Kind::Symlink), "{name:?}");
            assert!(!defers_to_git(name, Kind::File), "{name:?}");
        }
        for name in [&b".github"[..], b".gitignore", b".gitlab-ci.yml", b"digit", b"x.git"] {
            assert!(!defers_to_git(name, Kind::File), "{name:?}");
        }
    }
}
