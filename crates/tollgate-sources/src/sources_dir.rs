//! [`SourcesDir`]: finds, classifies and caches the projects of a sources folder.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tollgate_core::source::{Pin, ProjectName, RepoPath, Revision, Source, SourceError, TreeId};
use tollgate_git::Repository;

use crate::git_project::GitProject;
use crate::plain_folder::PlainFolder;

/// A folder of projects, each a git repository or a plain folder.
pub struct SourcesDir {
    root: PathBuf,
    /// Projects opened so far. A project that was missing is not remembered, so that it is
    /// found once it appears.
    projects: Mutex<HashMap<ProjectName, Arc<Project>>>,
}

enum Project {
    Git(GitProject),
    Plain(PlainFolder),
}

impl SourcesDir {
    /// Nothing is read until a project is asked for.
    pub fn new(root: PathBuf) -> SourcesDir {
        SourcesDir { root, projects: Mutex::new(HashMap::new()) }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The revision the project is at: the commit of `HEAD` for a git repository; `worktree`
    /// for a plain folder, which has one state only.
    pub fn head(&self, project: &ProjectName) -> Result<Revision, SourceError> {
        match &*self.project(project)? {
            Project::Git(git) => git.head(),
            Project::Plain(_) => Ok(Revision::new("worktree")),
        }
    }

    /// Whether the project is a git repository rather than a plain folder.
    pub fn is_git(&self, project: &ProjectName) -> Result<bool, SourceError> {
        Ok(matches!(&*self.project(project)?, Project::Git(_)))
    }

    /// Writes the project's files at `pin` into `dest` (created if missing; must be empty or
    /// absent). A git project: the commit's tree from git objects (never the work tree), with
    /// executable bits and symlinks as git records them; submodule gitlinks become empty
    /// folders, as in `git archive`. A plain folder: its files as they are now, `.git` left out,
    /// symlinks copied as links (a link that leaves the project is copied as a link too, never
    /// followed), the executable bit kept.
    ///
    /// The project and revision are checked before `dest` is touched. A `dest` that holds
    /// anything is refused as [`SourceError::Unavailable`]: it is the caller's workspace, not
    /// the input, that is wrong. On a failure part way, `dest` may hold part of the tree.
    pub fn export(&self, pin: &Pin, dest: &Path) -> Result<(), SourceError> {
        self.export_layerable(pin, dest).map(|_| ())
    }

    /// [`Self::export`], and whether [`Self::write_layer`] can make layers over what it wrote:
    /// only over a git tree written blob for blob, with no checkout conversion.
    pub fn export_layerable(&self, pin: &Pin, dest: &Path) -> Result<bool, SourceError> {
        match &*self.project(&pin.project)? {
            Project::Git(git) => git.export(&pin.revision, dest, false),
            Project::Plain(plain) => export_plain(plain, dest).map(|()| false),
        }
    }

    /// Writes into `dest` (created if missing; must be empty or absent) an overlayfs layer that,
    /// over an export of the tree `base` of the same project made by
    /// [`Self::export_layerable`] (which said it can), reads as an export of `pin`. The cost
    /// follows the paths that differ, not the size of the tree. The number of paths changed;
    /// `None` when a layer cannot be exact (a plain folder, a checkout conversion, a name git
    /// treats specially, a base git no longer has): export in full then.
    pub fn write_layer(
        &self,
        base: &TreeId,
        pin: &Pin,
        dest: &Path,
    ) -> Result<Option<usize>, SourceError> {
        match &*self.project(&pin.project)? {
            Project::Git(git) => git.write_layer(base, &pin.revision, dest),
            Project::Plain(_) => Ok(None),
        }
    }

    /// Like `export`, but `dest` becomes a git clone checked out (detached) at the commit, for
    /// modules with `tags: [git]`. For a plain folder this is `export` (there is no history).
    /// The clone does not depend on the source repository afterwards: it has its own copy of
    /// every object (no alternates, no hard links), so it works where the sources folder is not
    /// visible, and a build that writes into it cannot write into the sources.
    pub fn export_clone(&self, pin: &Pin, dest: &Path) -> Result<(), SourceError> {
        match &*self.project(&pin.project)? {
            Project::Git(git) => git.export(&pin.revision, dest, true).map(|_| ()),
            Project::Plain(plain) => export_plain(plain, dest),
        }
    }

    fn project(&self, name: &ProjectName) -> Result<Arc<Project>, SourceError> {
        let mut projects = self.projects.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(project) = projects.get(name) {
            return Ok(project.clone());
        }
        let project = Arc::new(self.open(name)?);
        projects.insert(name.clone(), project.clone());
        Ok(project)
    }

    /// Classifies the project's folder. Only stats the folder: git starts on the first read.
    fn open(&self, name: &ProjectName) -> Result<Project, SourceError> {
        let folder = self.root.join(name.as_str());
        match fs::metadata(&folder) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Err(SourceError::UnknownProject(name.clone())),
            Err(error) if is_absent(&error) => {
                // Without the sources folder itself no project is known, but that is the
                // installation's fault, not the fault of whatever named the project.
                if !self.root.is_dir() {
                    let root = self.root.display();
                    return Err(SourceError::Unavailable(format!("no sources folder at {root}")));
                }
                return Err(SourceError::UnknownProject(name.clone()));
            }
            Err(error) => return Err(unavailable(&folder, &error)),
        }
        let repository = Repository::open(&folder)
            .map_err(|error| SourceError::Unavailable(error.to_string()))?;
        Ok(match repository {
            Some(repository) => Project::Git(GitProject::new(name.clone(), repository)),
            None => Project::Plain(PlainFolder::open(&folder)?),
        })
    }
}

impl fmt::Debug for SourcesDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourcesDir").field("root", &self.root).finish_non_exhaustive()
    }
}

impl Source for SourcesDir {
    fn read(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Vec<u8>>, SourceError> {
        match &*self.project(&pin.project)? {
            Project::Git(git) => git.read(&pin.revision, path),
            Project::Plain(plain) => plain.read(path),
        }
    }

    fn tree_id(&self, pin: &Pin) -> Result<TreeId, SourceError> {
        match &*self.project(&pin.project)? {
            Project::Git(git) => git.tree_id(&pin.revision),
            Project::Plain(plain) => plain.tree_id(),
        }
    }

    fn resolve(&self, project: &ProjectName, reference: &str) -> Result<Revision, SourceError> {
        match &*self.project(project)? {
            Project::Git(git) => git.resolve(reference),
            Project::Plain(_) => Ok(Revision::new(reference)),
        }
    }

    fn submodule_pin(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Revision>, SourceError> {
        match &*self.project(&pin.project)? {
            Project::Git(git) => git.submodule_pin(&pin.revision, path),
            Project::Plain(_) => Ok(None),
        }
    }
}

fn export_plain(plain: &PlainFolder, dest: &Path) -> Result<(), SourceError> {
    empty_folder(dest)?;
    plain.export(dest)
}

/// Makes `dest` an empty folder to export into: created when missing, refused when it holds
/// anything, so that an export never mixes with what was there.
pub(crate) fn empty_folder(dest: &Path) -> Result<(), SourceError> {
    let refused = |why: &dyn fmt::Display| {
        SourceError::Unavailable(format!("cannot export into {}: {why}", dest.display()))
    };
    fs::create_dir_all(dest).map_err(|error| refused(&error))?;
    match fs::read_dir(dest).map_err(|error| refused(&error))?.next() {
        None => Ok(()),
        Some(Ok(_)) => Err(refused(&"the folder is not empty")),
        Some(Err(error)) => Err(refused(&error)),
    }
}

/// Not there, or a file where a folder was expected: the path names nothing.
pub(crate) fn is_absent(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// An I/O failure that is not about the input: the system's fault.
pub(crate) fn unavailable(path: &Path, error: &io::Error) -> SourceError {
    SourceError::Unavailable(format!("{}: {error}", path.display()))
}
