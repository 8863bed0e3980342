//! A project that is a git repository: every revision is read from git objects, never from
//! the work tree.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tollgate_core::source::{Pin, ProjectName, RepoPath, Revision, SourceError, TreeId};
use tollgate_git::{CommitId, GitError, Repository, TreeOid, Written};

use crate::sources_dir::empty_folder;

pub(crate) struct GitProject {
    name: ProjectName,
    repository: Repository,
    /// Full commit ids seen to exist. A commit id names the same commit for ever, so reads at a
    /// pinned commit skip `rev-parse` after the first; refs are resolved every time, as they move.
    known: Mutex<HashSet<CommitId>>,
}

impl GitProject {
    pub(crate) fn new(name: ProjectName, repository: Repository) -> GitProject {
        GitProject { name, repository, known: Mutex::new(HashSet::new()) }
    }

    pub(crate) fn read(
        &self,
        revision: &Revision,
        path: &RepoPath,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        let commit = self.commit(revision)?;
        self.repository.read_blob(&commit, path.as_str()).map_err(unavailable)
    }

    pub(crate) fn tree_id(&self, revision: &Revision) -> Result<TreeId, SourceError> {
        let commit = self.commit(revision)?;
        match self.repository.tree_of(&commit).map_err(unavailable)? {
            Some(tree) => Ok(TreeId::new(format!("git:{tree}"))),
            None => Err(self.vanished(&commit)),
        }
    }

    /// The commit's files from git objects, never the work tree; with `clone`, a clone of its
    /// own checked out detached at the commit. Whether a layer can be made over the export.
    pub(crate) fn export(
        &self,
        revision: &Revision,
        dest: &Path,
        clone: bool,
    ) -> Result<bool, SourceError> {
        let commit = self.commit(revision)?;
        empty_folder(dest)?;
        let written = match clone {
            true => self.repository.clone_to(&commit, dest).map(|cloned| cloned.then_some(false)),
            false => {
                let written = self.repository.export_to(&commit, dest);
                written.map(|written| written.map(|how| how == Written::FromObjects))
            }
        };
        written.map_err(unavailable)?.ok_or_else(|| self.vanished(&commit))
    }

    /// See [`crate::SourcesDir::write_layer`].
    pub(crate) fn write_layer(
        &self,
        base: &TreeId,
        revision: &Revision,
        dest: &Path,
    ) -> Result<Option<usize>, SourceError> {
        let Some(base) = base.as_str().strip_prefix("git:").and_then(TreeOid::parse) else {
            return Ok(None);
        };
        let commit = self.commit(revision)?;
        empty_folder(dest)?;
        self.repository.write_layer(&base, &commit, dest).map_err(unavailable)
    }

    pub(crate) fn resolve(&self, reference: &str) -> Result<Revision, SourceError> {
        let revision = Revision::new(reference);
        Ok(Revision::new(self.commit(&revision)?.as_str()))
    }

    pub(crate) fn submodule_pin(
        &self,
        revision: &Revision,
        path: &RepoPath,
    ) -> Result<Option<Revision>, SourceError> {
        let commit = self.commit(revision)?;
        let pin = self.repository.submodule_pin(&commit, path.as_str()).map_err(unavailable)?;
        Ok(pin.map(|pinned| Revision::new(pinned.as_str())))
    }

    /// `HEAD` exactly: no fallback to `origin`, which may be elsewhere.
    pub(crate) fn head(&self) -> Result<Revision, SourceError> {
        match self.repository.rev_parse_commit("HEAD").map_err(unavailable)? {
            Some(commit) => Ok(Revision::new(commit.as_str())),
            None => Err(self.unknown(&Revision::new("HEAD"))),
        }
    }

    /// The commit a revision names: as given, else as a branch of `origin` (a sources folder
    /// is often a clone that only has remote-tracking branches).
    fn commit(&self, revision: &Revision) -> Result<CommitId, SourceError> {
        let pinned = CommitId::parse(revision.as_str());
        if let Some(commit) = pinned.as_ref().filter(|commit| self.known().contains(*commit)) {
            return Ok(commit.clone());
        }
        let reference = revision.as_str();
        let commit = match self.repository.rev_parse_commit(reference).map_err(unavailable)? {
            Some(commit) => commit,
            None => self
                .repository
                .rev_parse_commit(&format!("refs/remotes/origin/{reference}"))
                .map_err(unavailable)?
                .ok_or_else(|| self.unknown(revision))?,
        };
        // Only an id that names itself: a tag's id peels to another commit.
        if pinned.as_ref() == Some(&commit) {
            self.known().insert(commit.clone());
        }
        Ok(commit)
    }

    fn known(&self) -> MutexGuard<'_, HashSet<CommitId>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The commit was there a moment ago: something removed it under us.
    fn vanished(&self, commit: &CommitId) -> SourceError {
        let repository = self.repository.path().display();
        SourceError::Unavailable(format!("commit {commit} vanished from {repository}"))
    }

    fn unknown(&self, revision: &Revision) -> SourceError {
        SourceError::UnknownRevision(Pin::new(self.name.clone(), revision.clone()))
    }
}

/// git failing is the system's fault; the error names the repository, command and stderr.
fn unavailable(error: GitError) -> SourceError {
    SourceError::Unavailable(error.to_string())
}
