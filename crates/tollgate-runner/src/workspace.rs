//! A work item's workspace: a fresh folder on the host that the agent sees as its home.
//!
//! In the sandbox the folder is mounted at [`AGENT_HOME`], so `{{.AgentWorkingDir}}` is
//! `/home/qt/work` on every run, as on Coin's machines, and whatever a build writes into its
//! artifacts about paths holds on the next machine too. Without the sandbox the agent sees the
//! host's own paths.
//!
//! ```text
//! <root>/            HOME of the agent
//!   work/            {{.AgentWorkingDir}}: sources, build and install folders
//!   tmp/             the agent's /tmp, private to the work item
//! ```

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tollgate_core::run::Layout;
use tollgate_core::source::ProjectName;

use crate::sandbox::Overlay;
use crate::tree_cache::Lease;

/// The agent's home inside the sandbox.
pub const AGENT_HOME: &str = "/home/qt";

#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    home: String,
    layout: Layout,
    /// The sources' copy-on-write mount, when they come from the tree cache.
    sources: Option<Sources>,
}

/// The mount over a cached tree, and the lease that keeps the tree in the cache: the mount
/// goes first (fields drop in order), then the tree may be evicted.
#[derive(Debug)]
struct Sources {
    overlay: Overlay,
    _lease: Lease,
}

impl Workspace {
    /// A new, empty workspace under `parent`, named after `name` (a work item id).
    pub fn create(
        parent: &Path,
        name: &str,
        project: &ProjectName,
        num_cpu: u32,
        sandboxed: bool,
    ) -> io::Result<Workspace> {
        fs::create_dir_all(parent)?;
        let parent = fs::canonicalize(parent)?;
        let root = fresh_dir(&parent, &slug(name))?;
        for dir in ["work", "tmp"] {
            fs::create_dir(root.join(dir))?;
        }
        let home = match sandboxed {
            true => AGENT_HOME.to_owned(),
            false => root.to_str().map(str::to_owned).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "the work folder is not UTF-8")
            })?,
        };
        let layout = Layout::new(&format!("{home}/work"), project, num_cpu);
        Ok(Workspace { root, home, layout, sources: None })
    }

    /// The folder on the host.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The agent's home, as the agent sees it.
    pub fn home(&self) -> &str {
        &self.home
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// `{{.AgentWorkingDir}}` on the host.
    pub fn work_dir(&self) -> PathBuf {
        self.root.join("work")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The folder that takes the writes to the sources' mount (`upper/`, `work/`), beside the
    /// workspace, where the work item does not see it.
    pub fn sources_layer_dir(&self) -> PathBuf {
        let mut dir = self.root.clone().into_os_string();
        dir.push(".sources");
        PathBuf::from(dir)
    }

    /// From now on the runner reaches the workspace through the mount's namespace.
    pub(crate) fn set_sources(&mut self, overlay: Overlay, lease: Lease) {
        self.sources = Some(Sources { overlay, _lease: lease });
    }

    pub(crate) fn sources(&self) -> Option<&Overlay> {
        self.sources.as_ref().map(|sources| &sources.overlay)
    }

    /// Where the agent's path `path` is on the host, as the runner reaches it: through the
    /// sources' mount namespace when there is one (see [`Self::reach`]).
    pub fn host_path(&self, path: &str) -> Result<PathBuf, String> {
        self.plain_path(path).map(|plain| self.reach(&plain))
    }

    /// A host path, as the runner reaches it: the sources' mount is only in its namespace, so
    /// through `/proc/PID/root` when there is one.
    pub fn reach(&self, plain: &Path) -> PathBuf {
        match self.sources() {
            Some(overlay) => overlay.view().join(plain.strip_prefix("/").unwrap_or(plain)),
            None => plain.to_owned(),
        }
    }

    /// `plain` with every link on its way followed, as `realpath` does, but in the namespace
    /// the runner reaches the files in: resolving `/proc/PID/root/...` by name would leave it.
    pub fn resolve(&self, plain: &Path) -> io::Result<PathBuf> {
        let mut resolved = PathBuf::from("/");
        let mut pending: Vec<_> =
            plain.components().rev().map(|c| c.as_os_str().to_owned()).collect();
        let mut links = 0;
        while let Some(part) = pending.pop() {
            match Path::new(&part).components().next() {
                Some(Component::Normal(name)) => {
                    let candidate = resolved.join(name);
                    let reached = self.reach(&candidate);
                    if !fs::symlink_metadata(&reached)?.is_symlink() {
                        resolved = candidate;
                        continue;
                    }
                    links += 1;
                    if links > 40 {
                        return Err(io::Error::other(format!(
                            "too many links at {}",
                            plain.display()
                        )));
                    }
                    let target = fs::read_link(&reached)?;
                    if target.is_absolute() {
                        resolved = PathBuf::from("/");
                    }
                    pending.extend(target.components().rev().map(|c| c.as_os_str().to_owned()));
                }
                Some(Component::ParentDir) => {
                    resolved.pop();
                }
                _ => {}
            }
        }
        Ok(resolved)
    }

    /// Where the agent's path `path` is on the host, outside any mount namespace. Only paths
    /// in the agent's home belong to the work item; `..` is resolved by name, and links are
    /// checked when the path is used.
    pub fn plain_path(&self, path: &str) -> Result<PathBuf, String> {
        let mut normal = PathBuf::from("/");
        for component in Path::new(path).components() {
            match component {
                Component::RootDir => {}
                Component::CurDir => {}
                Component::ParentDir => {
                    normal.pop();
                }
                Component::Normal(part) => normal.push(part),
                Component::Prefix(_) => return Err(format!("`{path}` is not a Unix path")),
            }
        }
        if !path.starts_with('/') {
            return Err(format!("`{path}` is not an absolute path"));
        }
        match normal.strip_prefix(&self.home) {
            Ok(rest) => Ok(self.root.join(rest)),
            Err(_) => Err(format!("`{path}` is outside the work item's folders ({})", self.home)),
        }
    }

    /// Deletes the workspace, after its sources' mount. Files the build made read-only are made
    /// writable first.
    pub fn remove(mut self) -> io::Result<()> {
        let layer = self.sources.take().map(|sources| {
            drop(sources);
            self.sources_layer_dir()
        });
        if let Some(layer) = layer {
            remove_tree(&layer)?;
        }
        remove_tree(&self.root)
    }
}

/// `qt/qtsvg:ubuntu-22.04:Build` → `qt-qtsvg-ubuntu-22.04-Build`.
fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .take(80)
        .collect();
    if slug.is_empty() { "item".to_owned() } else { slug }
}

/// A folder that did not exist: `<slug>-<time>-<pid>-<n>`.
fn fresh_dir(parent: &Path, slug: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let time = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("{slug}-{time}-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Removes `root` and all it holds, also folders left without permissions (by a build, or by
/// overlayfs for its own work); a missing `root` is no error.
pub fn remove_tree(root: &Path) -> io::Result<()> {
    match fs::remove_dir_all(root) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            // Builds leave read-only folders (Go's module cache, git objects): open them up,
            // never following links out of the tree.
            make_writable(root);
            fs::remove_dir_all(root)
        }
    }
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = fs::symlink_metadata(dir) else { return };
    if !metadata.is_dir() {
        return;
    }
    let mut permissions = metadata.permissions();
    permissions.set_mode(permissions.mode() | 0o700);
    let _ = fs::set_permissions(dir, permissions);
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            make_writable(&entry.path());
        }
    }
}
