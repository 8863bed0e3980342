//! A git repository on disk, work tree or bare: the reads planning needs, and a commit's
//! files written out for a work item.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::cat_file::ObjectReader;
use crate::command;
use crate::{CommitId, GitError, TreeOid};

/// The mode of a gitlink (a submodule entry) in a tree.
const GITLINK: &str = "160000";

/// Checkouts write files with one worker per CPU (git's `checkout.workers=0`); the files are
/// the same as with one.
const PARALLEL_CHECKOUT: [&str; 2] = ["-c", "checkout.workers=0"];

pub struct Repository {
    path: PathBuf,
    objects: ObjectReader,
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
        Ok(Some(Repository { objects: ObjectReader::new(path.clone()), path }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The commit `reference` names (a branch, a tag, a commit id, `HEAD`, `origin/dev`, …);
    /// `None` when it names no commit.
    pub fn rev_parse_commit(&self, reference: &str) -> Result<Option<CommitId>, GitError> {
        // git would read a leading `-` as an option; no ref starts with one.
        if reference.is_empty() || reference.starts_with('-') {
            return Ok(None);
        }
        let id = self.rev_parse(&format!("{reference}^{{commit}}"))?;
        id.map(|id| CommitId::parse(&id).ok_or_else(|| self.odd_output("rev-parse", &id)))
            .transpose()
    }

    /// The root tree of `commit`; `None` when the repository has no such commit.
    pub fn tree_of(&self, commit: &CommitId) -> Result<Option<TreeOid>, GitError> {
        let id = self.rev_parse(&format!("{commit}^{{tree}}"))?;
        id.map(|id| TreeOid::parse(&id).ok_or_else(|| self.odd_output("rev-parse", &id)))
            .transpose()
    }

    /// The content of the file at `path` (relative to the root, `/`-separated) in `commit`;
    /// `None` when there is no file there, or the path is a folder or a submodule. A symlink
    /// reads as its target, which is what git stores.
    pub fn read_blob(&self, commit: &CommitId, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        if path.is_empty() || path.contains('\0') {
            return Ok(None);
        }
        if path.contains('\n') {
            // The batch protocol is line-based: name the blob by its id instead.
            return match self.rev_parse(&format!("{commit}:{path}"))? {
                Some(blob) => self.objects.read_blob(&blob),
                None => Ok(None),
            };
        }
        self.objects.read_blob(&format!("{commit}:{path}"))
    }

    /// The commit a submodule at `path` in `commit` is pinned to: the gitlink's id. `None` when
    /// there is no gitlink at `path`.
    pub fn submodule_pin(
        &self,
        commit: &CommitId,
        path: &str,
    ) -> Result<Option<CommitId>, GitError> {
        if path.is_empty() || path.contains('\0') {
            return Ok(None);
        }
        // Literal pathspecs: `*` or `:` in a path is a character, not magic.
        let args =
            ["--literal-pathspecs", "ls-tree", "-z", "--full-tree", commit.as_str(), "--", path];
        let output = command::output(&self.path, &args)?;
        if !output.status.success() {
            return Err(command::failed(&self.path, &args, &output));
        }
        let listing = String::from_utf8_lossy(&output.stdout);
        for entry in listing.split('\0').filter(|e| !e.is_empty()) {
            // `<mode> <type> <id>\t<path>`
            let parsed = entry.split_once('\t').and_then(|(info, name)| {
                let mut info = info.split(' ');
                Some((info.next()?, info.nth(1)?, name))
            });
            let Some((mode, id, name)) = parsed else {
                return Err(self.odd_output("ls-tree", entry));
            };
            if name == path && mode == GITLINK {
                return CommitId::parse(id)
                    .map(Some)
                    .ok_or_else(|| self.odd_output("ls-tree", entry));
            }
        }
        Ok(None)
    }

    /// Writes the files of `commit` into `dest`, an existing empty folder, as a checkout writes
    /// them: executable bits and symlinks as the tree records them, a gitlink as an empty
    /// folder, `.gitattributes` conversions applied. Read from objects alone: the work tree and
    /// the repository's own index are neither read nor touched, and a read-only repository
    /// will do. `false` when the repository has no such commit.
    ///
    /// `read-tree` into a scratch index, then `checkout-index --all` (git's own export idiom)
    /// rather than `git archive`: the files are exactly a clone's checkout, because
    /// `export-ignore` and `export-subst` do not apply (`export-subst` would write the commit
    /// id into files, so the content would no longer follow the tree id that build keys use),
    /// and `read-tree` refuses a hostile tree's `.git/…` or `..` paths. It is as fast: both
    /// inflate the same objects, and a checkout writes files in parallel. On error `dest` may
    /// hold part of the tree.
    pub fn export_to(&self, commit: &CommitId, dest: &Path) -> Result<bool, GitError> {
        let Some(tree) = self.tree_of(commit)? else {
            return Ok(false);
        };
        let dest = absolute(dest)?;
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
        work_tree.push(&dest);
        let [c, workers] = PARALLEL_CHECKOUT.map(OsStr::new);
        let checkout = [c, workers, &work_tree, OsStr::new("checkout-index"), OsStr::new("--all")];
        command::run(with_index(), &self.path, &checkout)?;
        Ok(true)
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

    /// `git rev-parse --verify --quiet <expression>`: the object id, or `None` when the
    /// expression names nothing.
    fn rev_parse(&self, expression: &str) -> Result<Option<String>, GitError> {
        let args = ["rev-parse", "--verify", "--quiet", expression];
        let output = command::output(&self.path, &args)?;
        if output.status.success() {
            return Ok(Some(String::from_utf8_lossy(&output.stdout).trim().to_owned()));
        }
        // `--verify --quiet` exits 1 for a name that resolves to nothing.
        if output.status.code() == Some(1) {
            return Ok(None);
        }
        // Some names fail with git's fatal status instead (`HEAD@{99}` beyond the reflog). The
        // name was at fault only if the repository itself still answers.
        let probe = ["rev-parse", "--git-dir"];
        match command::output(&self.path, &probe) {
            Ok(probed) if probed.status.success() => Ok(None),
            _ => Err(command::failed(&self.path, &args, &output)),
        }
    }

    fn odd_output(&self, command: &str, output: &str) -> GitError {
        GitError::Output {
            repo: self.path.clone(),
            command: command.to_owned(),
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
