//! Where the core reads repository files from.
//!
//! The core never touches a disk or a network. Everything it reads goes through [`Source`]: a
//! project at a revision plus a path gives bytes. The same planning code thus reads from a
//! folder, from git objects, or from memory ([`MemorySource`], used by tests and benchmarks).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A project by its review-system name, such as `qt/qtbase`.
///
/// Names, revisions and paths are shared, not copied: every instruction of a plan carries a
/// location that holds all three, and a plan clones tens of thousands of instructions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectName(Arc<str>);

impl ProjectName {
    /// A name is one or more `/`-separated components, none empty, `.` or `..`.
    pub fn new(name: &str) -> Option<ProjectName> {
        let name = name.strip_suffix(".git").unwrap_or(name);
        let valid = !name.is_empty()
            && name.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
            && !name.chars().any(|c| c.is_whitespace() || c == '\\' || c == ':');
        valid.then(|| ProjectName(name.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last component: `qtbase` for `qt/qtbase`. Platform configurations are looked up by it.
    pub fn short_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(self.as_str())
    }

    /// Resolves a dependency key the way git resolves a relative submodule URL against the
    /// superproject: every leading `../` removes one component. `qt/qtsvg` + `../qtbase` is
    /// `qt/qtbase`. Absolute keys (`qt/qtbase`, or a URL) keep their last components as they are.
    pub fn join_relative(&self, key: &str) -> Option<ProjectName> {
        let key = key.trim().trim_end_matches('/');
        let key = key.strip_suffix(".git").unwrap_or(key);
        if !key.starts_with("./") && !key.starts_with("../") {
            // An absolute URL (`https://host/qt/qtbase`) names the project by its path.
            let path = match key.split_once("://") {
                Some((_, rest)) => rest.split_once('/').map_or("", |(_, p)| p),
                None => key,
            };
            return ProjectName::new(path.trim_start_matches('/'));
        }
        // A relative URL is relative to the project's own URL: `qt/qtsvg` is `<base>/qt/qtsvg`.
        let mut parts: Vec<&str> = self.0.split('/').collect();
        for part in key.split('/') {
            match part {
                "." | "" => {}
                ".." => {
                    parts.pop()?;
                }
                other => parts.push(other),
            }
        }
        ProjectName::new(&parts.join("/"))
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A revision of a project: a commit id, or a ref that a [`Source`] resolves.
///
/// A source backed by a plain folder has one state only and ignores revisions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(Arc<str>);

impl Revision {
    pub fn new(revision: impl Into<String>) -> Revision {
        Revision(revision.into().into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, for messages.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(self.as_str())
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A project at a revision.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pin {
    pub project: ProjectName,
    pub revision: Revision,
}

impl Pin {
    pub fn new(project: ProjectName, revision: Revision) -> Pin {
        Pin { project, revision }
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.project, self.revision.short())
    }
}

/// A normalised path inside a repository: `/`-separated, relative, without `.` or `..`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoPath(Arc<str>);

impl RepoPath {
    /// Normalises `a//b/./c`; refuses absolute paths and paths that climb out with `..`.
    pub fn new(path: &str) -> Option<RepoPath> {
        if path.starts_with('/') || path.contains('\\') || path.contains('\0') {
            return None;
        }
        let mut parts: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                other => parts.push(other),
            }
        }
        (!parts.is_empty()).then(|| RepoPath(parts.join("/").into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn join(&self, rest: &str) -> Option<RepoPath> {
        RepoPath::new(&format!("{}/{}", self.0, rest))
    }

    /// The folder part: `coin/platform_configs` for `coin/platform_configs/qt5.yaml`.
    pub fn parent(&self) -> Option<RepoPath> {
        self.0.rsplit_once('/').map(|(dir, _)| RepoPath(dir.into()))
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies the content of a whole source tree: a git tree id, or a content hash of a folder.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeId(Arc<str>);

impl TreeId {
    pub fn new(id: impl Into<String>) -> TreeId {
        TreeId(id.into().into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TreeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a read failed.
///
/// `UnknownProject` and `UnknownRevision` are facts about the input (a pin that names nothing)
/// and become diagnostics. `Unavailable` is the system's fault (a disk, a git process) and stops
/// planning, so that it is never reported as the change's fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceError {
    UnknownProject(ProjectName),
    UnknownRevision(Pin),
    Unavailable(String),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::UnknownProject(project) => write!(f, "project `{project}` is not known"),
            SourceError::UnknownRevision(pin) => {
                write!(f, "revision `{}` of `{}` does not exist", pin.revision, pin.project)
            }
            SourceError::Unavailable(message) => write!(f, "source unavailable: {message}"),
        }
    }
}

impl std::error::Error for SourceError {}

/// Reads repository content. Implementations: a sources folder (plain folders and git
/// repositories, in `tollgate-sources`), and [`MemorySource`].
pub trait Source {
    /// The bytes of `path` in the project at the revision; `Ok(None)` when there is no such file.
    fn read(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Vec<u8>>, SourceError>;

    /// The id of the whole tree of the project at the revision.
    fn tree_id(&self, pin: &Pin) -> Result<TreeId, SourceError>;

    /// Resolves a ref (`dev`, `6.8`, a tag or a commit id) to a revision.
    fn resolve(&self, project: &ProjectName, reference: &str) -> Result<Revision, SourceError>;

    /// The commit a submodule at `path` is pinned to (a gitlink), if there is one.
    fn submodule_pin(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Revision>, SourceError>;
}

/// An in-memory source: projects hold files; revisions are ignored unless a file was added for a
/// specific revision.
#[derive(Clone, Debug, Default)]
pub struct MemorySource {
    files: BTreeMap<(ProjectName, Option<Revision>, RepoPath), Vec<u8>>,
    submodules: BTreeMap<(ProjectName, RepoPath), Revision>,
}

impl MemorySource {
    pub fn new() -> MemorySource {
        MemorySource::default()
    }

    /// Adds a file visible at every revision. Panics on an invalid name: this is test set-up.
    pub fn add(&mut self, project: &str, path: &str, content: impl Into<Vec<u8>>) -> &mut Self {
        self.insert(project, None, path, content.into())
    }

    /// Adds a file visible at one revision only; it wins over a file added with [`Self::add`].
    pub fn add_at(
        &mut self,
        project: &str,
        revision: &str,
        path: &str,
        content: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.insert(project, Some(Revision::new(revision)), path, content.into())
    }

    pub fn add_submodule(&mut self, project: &str, path: &str, revision: &str) -> &mut Self {
        let key = (project_name(project), RepoPath::new(path).expect("valid path"));
        self.submodules.insert(key, Revision::new(revision));
        self
    }

    fn insert(
        &mut self,
        project: &str,
        revision: Option<Revision>,
        path: &str,
        content: Vec<u8>,
    ) -> &mut Self {
        let path = RepoPath::new(path).expect("valid path");
        self.files.insert((project_name(project), revision, path), content);
        self
    }

    fn knows(&self, project: &ProjectName) -> bool {
        self.files.keys().any(|(p, _, _)| p == project)
    }
}

fn project_name(name: &str) -> ProjectName {
    ProjectName::new(name).expect("valid project name")
}

impl Source for MemorySource {
    fn read(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Vec<u8>>, SourceError> {
        if !self.knows(&pin.project) {
            return Err(SourceError::UnknownProject(pin.project.clone()));
        }
        let at = (pin.project.clone(), Some(pin.revision.clone()), path.clone());
        let any = (pin.project.clone(), None, path.clone());
        Ok(self.files.get(&at).or_else(|| self.files.get(&any)).cloned())
    }

    fn tree_id(&self, pin: &Pin) -> Result<TreeId, SourceError> {
        if !self.knows(&pin.project) {
            return Err(SourceError::UnknownProject(pin.project.clone()));
        }
        let mut hasher = blake3::Hasher::new();
        for ((project, revision, path), content) in &self.files {
            let visible = revision.as_ref().is_none_or(|r| *r == pin.revision);
            if *project == pin.project && visible {
                hasher.update(path.as_str().as_bytes());
                hasher.update(&[0]);
                hasher.update(&(content.len() as u64).to_le_bytes());
                hasher.update(content);
            }
        }
        Ok(TreeId::new(format!("mem-{}", hasher.finalize().to_hex())))
    }

    fn resolve(&self, project: &ProjectName, reference: &str) -> Result<Revision, SourceError> {
        if !self.knows(project) {
            return Err(SourceError::UnknownProject(project.clone()));
        }
        Ok(Revision::new(reference))
    }

    fn submodule_pin(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Revision>, SourceError> {
        Ok(self.submodules.get(&(pin.project.clone(), path.clone())).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_dependency_keys_resolve_like_submodule_urls() {
        let svg = ProjectName::new("qt/qtsvg").unwrap();
        let pyside = ProjectName::new("pyside/pyside-setup").unwrap();
        let check = |base: &ProjectName, key: &str| base.join_relative(key).map(|p| p.0);
        assert_eq!(check(&svg, "../qtbase").as_deref(), Some("qt/qtbase"));
        assert_eq!(check(&svg, "../qtbase.git").as_deref(), Some("qt/qtbase"));
        assert_eq!(check(&pyside, "../../qt/qt5").as_deref(), Some("qt/qt5"));
        assert_eq!(check(&pyside, "../../qt/qt5.git").as_deref(), Some("qt/qt5"));
        assert_eq!(check(&svg, "qt/qtbase").as_deref(), Some("qt/qtbase"));
        assert_eq!(check(&svg, "https://code.qt.io/qt/qtbase.git").as_deref(), Some("qt/qtbase"));
        assert_eq!(check(&svg, "../../../x"), None, "climbs above the root");
    }

    #[test]
    fn repo_paths_are_normalised_and_stay_inside() {
        assert_eq!(
            RepoPath::new("coin//instructions/./a.yaml").unwrap().as_str(),
            "coin/instructions/a.yaml"
        );
        assert_eq!(RepoPath::new("coin/../x").unwrap().as_str(), "x");
        assert!(RepoPath::new("../x").is_none());
        assert!(RepoPath::new("/etc/passwd").is_none());
        assert!(RepoPath::new("").is_none());
    }
}
