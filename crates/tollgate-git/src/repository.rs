//! A git repository on disk, work tree or bare: the reads planning needs, and a commit's
//! files written out for a work item.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cat_file::{self, ObjectReader};
use crate::conversion::Conversions;
use crate::export::Export;
use crate::tree::{self, Kind};
use crate::{CommitId, CommitInfo, GitError, TreeOid, command, commit};

/// Checkouts write files with one worker per CPU (git's `checkout.workers=0`); the files are
/// the same as with one.
const PARALLEL_CHECKOUT: [&str; 2] = ["-c", "checkout.workers=0"];

/// How [`Repository::export_to`] wrote a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Each blob as it is: [`Repository::write_layer`] can make a layer over it.
    FromObjects,
    /// By git's checkout, which may have converted files.
    ByCheckout,
}

pub struct Repository {
    path: PathBuf,
    objects: ObjectReader,
    /// Read on the first export.
    conversions: OnceLock<Conversions>,
}

impl Repository {
    /// `Some` when `path` is a repository: a work tree with a `.git` folder or file (linked
    /// work trees and submodules have a file), or a bare repository. Decided from the files
    /// alone, without starting git; a path that does not exist is not a repository.
    pub fn open(path: impl Into<PathBuf>) -> Result<Option<Repository>, GitError> {
        let path = path.into();
        if !is_repository(&path)? {
            return Ok(None);
        }
        let objects = ObjectReader::new(path.clone());
        Ok(Some(Repository { objects, path, conversions: OnceLock::new() }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The commit `reference` names (a branch, a tag, a commit id, `HEAD`, `origin/dev`, …);
    /// `None` when it names no commit. Answered by the batch process, which sees refs and
    /// objects as they are now (see [`crate::cat_file`]).
    pub fn rev_parse_commit(&self, reference: &str) -> Result<Option<CommitId>, GitError> {
        // A leading `-` would be an option to git; no ref starts with one. A name the batch
        // process cannot be sent (a newline in it) names no ref either.
        let name = format!("{reference}^{{commit}}");
        if reference.is_empty() || reference.starts_with('-') || !cat_file::sendable(&name) {
            return Ok(None);
        }
        let answer = match self.objects.info(&name) {
            // git dies on some names rather than answering `missing` (`HEAD@{99}` beyond the
            // reflog, `@{upstream}` of a branch without one). The name was at fault only if
            // the repository itself still answers; if not, that is the error.
            Err(GitError::Broken { .. }) => {
                let probe = ["rev-parse", "--git-dir"];
                command::run(command::git(&self.path), &self.path, &probe)?;
                return Ok(None);
            }
            answer => answer?,
        };
        answer.map(|(id, kind)| self.typed(&id, &kind, "commit", CommitId::parse)).transpose()
    }

    /// The root tree of `commit`; `None` when the repository has no such commit.
    pub fn tree_of(&self, commit: &CommitId) -> Result<Option<TreeOid>, GitError> {
        let answer = self.objects.info(&format!("{commit}^{{tree}}"))?;
        answer.map(|(id, kind)| self.typed(&id, &kind, "tree", TreeOid::parse)).transpose()
    }

    /// What `commit` records: its tree, its parents, its author and subject as `git log` shows
    /// them; `None` when the repository has no such commit. One read of the batch process.
    pub fn commit_info(&self, commit: &CommitId) -> Result<Option<CommitInfo>, GitError> {
        match self.objects.read(commit.as_str())? {
            Some((kind, raw)) if kind == "commit" => commit::parse(&raw)
                .map(Some)
                .ok_or_else(|| self.odd_output(&format!("commit {commit} is malformed"))),
            _ => Ok(None),
        }
    }

    /// The content of the file at `path` (relative to the root, `/`-separated) in `commit`;
    /// `None` when there is no file there, or the path is a folder or a submodule. A symlink
    /// reads as its target, which is what git stores.
    pub fn read_blob(&self, commit: &CommitId, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        if path.is_empty() || path.contains('\0') {
            return Ok(None);
        }
        let name = format!("{commit}:{path}");
        if cat_file::sendable(&name) {
            return self.objects.read_blob(&name);
        }
        // A path the line protocol cannot carry (a newline in it, a `\r` at its end): one
        // folder at a time.
        match self.entry_at(commit, path)? {
            Some((Kind::File | Kind::Executable | Kind::Symlink, blob)) => {
                self.objects.read_blob(&blob)
            }
            _ => Ok(None),
        }
    }

    /// The commit a submodule at `path` in `commit` is pinned to: the gitlink's id. `None` when
    /// there is no gitlink at `path`.
    pub fn submodule_pin(
        &self,
        commit: &CommitId,
        path: &str,
    ) -> Result<Option<CommitId>, GitError> {
        match self.entry_at(commit, path)? {
            Some((Kind::Gitlink, id)) => {
                CommitId::parse(&id).map(Some).ok_or_else(|| self.odd_output(&id))
            }
            _ => Ok(None),
        }
    }

    /// Writes the files of `commit` into `dest`, an existing empty folder, as a checkout writes
    /// them: executable bits and symlinks as the tree records them, a gitlink as an empty
    /// folder, `.gitattributes` conversions applied. Read from objects alone: the work tree and
    /// the repository's own index are neither read nor touched, and a read-only repository
    /// will do. `false` when the repository has no such commit. A tree with a path git refuses
    /// (`..`, `.git`) is an error, and nothing is written outside `dest`.
    ///
    /// When no conversion can apply (no attributes anywhere, no converting config, see
    /// [`crate::conversion`]), the files are written straight from the batch process, since a
    /// checkout would write the blobs as they are: no process and no scratch folder per work
    /// item. Otherwise git writes them, see [`Self::checkout_to`]. On error `dest` may hold part
    /// of the tree.
    pub fn export_to(&self, commit: &CommitId, dest: &Path) -> Result<Option<Written>, GitError> {
        let Some(tree) = self.tree_of(commit)? else {
            return Ok(None);
        };
        let dest = absolute(dest)?;
        if !self.conversions()?.may_apply()? {
            let export = Export { objects: &self.objects, repo: &self.path, commit };
            if let Some(items) = export.plan(&tree)? {
                export.write(&items, &dest)?;
                return Ok(Some(Written::FromObjects));
            }
        }
        self.checkout_to(&tree, &dest)?;
        Ok(Some(Written::ByCheckout))
    }

    /// Writes into `dest`, an existing empty folder, an overlayfs layer that, over an export
    /// of tree `base` written [`Written::FromObjects`], reads as an export of `commit`: the
    /// files that changed, the folders on their way, and a whiteout for each path that is
    /// gone. It reads only the subtrees that differ, so its cost follows the change, not the
    /// tree. The number of paths changed, or `None` when a layer would not be what an export
    /// writes (a checkout conversion may apply, a changed name is one git treats specially, a
    /// folder became a submodule), or when there is no such commit or base tree: export in
    /// full then. On error `dest` may hold part of the layer.
    pub fn write_layer(
        &self,
        base: &TreeOid,
        commit: &CommitId,
        dest: &Path,
    ) -> Result<Option<usize>, GitError> {
        let Some(tree) = self.tree_of(commit)? else {
            return Ok(None);
        };
        let base_is_tree =
            matches!(self.objects.info(base.as_str())?, Some((_, kind)) if kind == "tree");
        if !base_is_tree || self.conversions()?.may_apply()? {
            return Ok(None);
        }
        let export = Export { objects: &self.objects, repo: &self.path, commit };
        let Some(layer) = export.layer(base, &tree)? else {
            return Ok(None);
        };
        export.write_layer(&layer, &absolute(dest)?)?;
        Ok(Some(layer.changed()))
    }

    /// [`Self::export_to`] by git: `read-tree` into a scratch index, then `checkout-index
    /// --all` (git's own export idiom) rather than `git archive`: the files are exactly a
    /// clone's checkout, because `export-ignore` and `export-subst` do not apply
    /// (`export-subst` would write the commit id into files, so the content would no longer
    /// follow the tree id that build keys use), and `read-tree` refuses a hostile tree's
    /// `.git/…` or `..` paths. A checkout writes files in parallel.
    fn checkout_to(&self, tree: &TreeOid, dest: &Path) -> Result<(), GitError> {
        let scratch = tempfile::Builder::new()
            .prefix("tollgate-export-")
            .tempdir()
            .map_err(|source| GitError::Io { path: std::env::temp_dir(), source })?;
        let index = scratch.path().join("index");
        let with_index = || {
            let mut git = command::git(&self.path);
            git.env("GIT_INDEX_FILE", &index);
            git
        };
        command::run(with_index(), &self.path, &["read-tree", tree.as_str()])?;
        let mut work_tree = OsString::from("--work-tree=");
        work_tree.push(dest);
        let [c, workers] = PARALLEL_CHECKOUT.map(OsStr::new);
        let checkout = [c, workers, &work_tree, OsStr::new("checkout-index"), OsStr::new("--all")];
        command::run(with_index(), &self.path, &checkout)?;
        Ok(())
    }

    /// Clones the repository into `dest`, an empty or missing folder, checked out detached at
    /// `commit`; `false` when the repository has no such commit.
    ///
    /// The clone owns its objects: a local clone copies the object folder (so commits only
    /// reachable from remote-tracking branches, or from no ref at all, come along), without
    /// hard links, since a build writing to a linked pack file would write into this
    /// repository, and `--dissociate` copies whatever this repository borrows through
    /// alternates. No template: the clone gets no sample hooks or other template files.
    pub fn clone_to(&self, commit: &CommitId, dest: &Path) -> Result<bool, GitError> {
        if self.tree_of(commit)?.is_none() {
            return Ok(false);
        }
        let dest = absolute(dest)?;
        let options = ["clone", "--quiet", "--local", "--no-hardlinks", "--dissociate"];
        let more = ["--no-checkout", "--template=", "--", "."];
        let mut clone: Vec<&OsStr> = options.iter().chain(&more).map(OsStr::new).collect();
        clone.push(dest.as_os_str());
        command::run(command::git(&self.path), &self.path, &clone)?;
        let [c, workers] = PARALLEL_CHECKOUT;
        let checkout = [c, workers, "checkout", "--quiet", "--detach", commit.as_str(), "--"];
        command::run(command::git(&dest), &dest, &checkout)?;
        Ok(true)
    }

    fn conversions(&self) -> Result<&Conversions, GitError> {
        if let Some(conversions) = self.conversions.get() {
            return Ok(conversions);
        }
        // Two threads may both read it; the first to finish is kept.
        let conversions = Conversions::read(&self.path)?;
        Ok(self.conversions.get_or_init(|| conversions))
    }

    /// The kind and id of the entry at `path` in `commit`, reading the trees on the way;
    /// `None` when there is none.
    fn entry_at(&self, commit: &CommitId, path: &str) -> Result<Option<(Kind, String)>, GitError> {
        let Some(root) = self.tree_of(commit)? else {
            return Ok(None);
        };
        let mut found = (Kind::Tree, root.as_str().to_owned());
        for name in path.split('/') {
            let (Kind::Tree, tree) = &found else {
                return Ok(None);
            };
            let malformed = || self.odd_output(&format!("tree {tree} is malformed"));
            let raw = match self.objects.read(tree)? {
                Some((kind, raw)) if kind == "tree" => raw,
                _ => return Err(malformed()),
            };
            let entries = tree::entries(&raw, commit.as_str().len()).ok_or_else(malformed)?;
            match entries.into_iter().find(|entry| entry.name == name.as_bytes()) {
                Some(entry) => found = (entry.kind, entry.id),
                None => return Ok(None),
            }
        }
        Ok(Some(found))
    }

    /// An id the batch process gave for a name peeled to `expected`, parsed.
    fn typed<T>(
        &self,
        id: &str,
        kind: &str,
        expected: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<T, GitError> {
        match parse(id) {
            Some(id) if kind == expected => Ok(id),
            _ => Err(self.odd_output(&format!("{id} {kind}"))),
        }
    }

    /// An answer of the batch process that makes no sense.
    fn odd_output(&self, output: &str) -> GitError {
        GitError::Output {
            repo: self.path.clone(),
            command: command::describe(&cat_file::ARGS),
            output: output.to_owned(),
        }
    }
}

impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository").field("path", &self.path).finish_non_exhaustive()
    }
}

/// git's own test: a `.git` entry, or what a bare repository holds (`HEAD`, `objects/`,
/// `refs/`).
fn is_repository(path: &Path) -> Result<bool, GitError> {
    if metadata(&path.join(".git"))?.is_some() {
        return Ok(true);
    }
    let is = |name: &str, dir: bool| -> Result<bool, GitError> {
        Ok(metadata(&path.join(name))?.is_some_and(|m| if dir { m.is_dir() } else { m.is_file() }))
    };
    Ok(is("HEAD", false)? && is("objects", true)? && is("refs", true)?)
}

/// `path` made absolute against the current folder, since git runs elsewhere.
fn absolute(path: &Path) -> Result<PathBuf, GitError> {
    std::path::absolute(path).map_err(|source| GitError::Io { path: path.to_owned(), source })
}

fn metadata(path: &Path) -> Result<Option<fs::Metadata>, GitError> {
    match fs::metadata(path) {
        Ok(metadata) => Ok(Some(metadata)),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
            Ok(None)
        }
        Err(source) => Err(GitError::Io { path: path.to_owned(), source }),
    }
}
