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

/// The agent's home inside the sandbox.
pub const AGENT_HOME: &str = "/home/qt";

#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    home: String,
    layout: Layout,
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
        Ok(Workspace { root, home, layout })
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

    /// Where the agent's path `path` is on the host. Only paths in the agent's home belong to
    /// the work item; `..` is resolved by name, and links are checked when the path is used.
    pub fn host_path(&self, path: &str) -> Result<PathBuf, String> {
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

    /// Deletes the workspace. Files the build made read-only are made writable first.
    pub fn remove(self) -> io::Result<()> {
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

pub(crate) fn remove_tree(root: &Path) -> io::Result<()> {
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
