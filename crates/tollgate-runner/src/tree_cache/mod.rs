//! The per-machine tree cache: each distinct source tree is written once, read-only, and
//! shared by every work item that needs it, through a copy-on-write mount (see
//! [`crate::sandbox::Overlay`]).
//!
//! A tree is either **full** (an export) or a **layer** over a full tree of the same project:
//! the paths that differ, and whiteouts for the paths that are gone (see
//! `tollgate_git::Repository::write_layer`). A new tree is made as a layer over the most
//! recently used full tree of its project, so its cost follows the change, not the tree; when
//! the layer would hold more than an eighth of the paths of its base (the branch moved far
//! from it), the tree is exported in full instead and becomes the next base. A mount then has
//! at most two lower layers.
//!
//! ```text
//! <root>/<key>/tree/   the files (read-only by convention: only ever a lower layer)
//! <root>/<key>/meta    what they are, and (its mtime) when they were last used
//! <root>/tmp-*         a tree being made or removed; swept at start
//! ```
//!
//! The cache holds at most `limit` bytes: past it, the least recently used trees go, never one
//! a work item uses, never a base while a layer over it remains. It survives a restart: the
//! folder is read back at start, and a tree half made or half removed is swept.

mod entry;
mod evict;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tollgate_core::source::{Pin, SourceError, TreeId};
use tollgate_sources::SourcesDir;

use crate::workspace::remove_tree;
use entry::{Meta, key, measure};

/// A layer may change at most this share of its base's paths (1/n) before the tree is
/// exported in full instead.
const LAYER_SHARE: u64 = 8;
/// ...but a layer of this many paths is always fine: small trees are not exported each time.
const LAYER_MIN: u64 = 256;

#[derive(Clone, Debug)]
pub struct TreeCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    limit: u64,
    index: Mutex<HashMap<String, Cached>>,
    /// One tree made at a time: two work items that need the same new tree (every
    /// configuration of an integration) wait for one export, not two.
    making: Mutex<()>,
}

#[derive(Debug)]
struct Cached {
    meta: Meta,
    last_used: SystemTime,
    /// Work items that use it, directly or through a layer over it.
    leases: usize,
}

/// A tree in use by a work item: not evicted while held.
#[derive(Debug)]
pub struct Lease {
    cache: Arc<Inner>,
    key: String,
    base: Option<String>,
    /// The tree's layers, uppermost first, as overlayfs's `lowerdir` takes them.
    pub lower: Vec<PathBuf>,
    /// How the tree came to be here, for the work item's log.
    pub how: Made,
}

/// How a work item's tree was found or made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Made {
    Cached,
    Layer { paths: u64, base: String },
    Full { paths: u64 },
}

impl TreeCache {
    /// The cache in `root` (made if missing), with what a previous run left read back.
    pub fn open(root: &Path, limit: u64) -> io::Result<TreeCache> {
        fs::create_dir_all(root)?;
        let root = fs::canonicalize(root)?;
        let mut index = HashMap::new();
        for entry in fs::read_dir(&root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = Meta::read(&entry.path().join("meta"));
            match meta {
                Some((meta, last_used)) if !name.starts_with("tmp-") => {
                    index.insert(name, Cached { meta, last_used, leases: 0 });
                }
                _ => remove_tree(&entry.path())?,
            }
        }
        // A layer whose base is gone (removed by hand) is of no use.
        let orphans: Vec<String> = index
            .iter()
            .filter(|(_, c)| c.meta.base.as_ref().is_some_and(|base| !index.contains_key(base)))
            .map(|(key, _)| key.clone())
            .collect();
        for orphan in orphans {
            index.remove(&orphan);
            remove_tree(&root.join(&orphan))?;
        }
        let inner = Inner { root, limit, index: Mutex::new(index), making: Mutex::new(()) };
        Ok(TreeCache { inner: Arc::new(inner) })
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// What the cached trees take on disk.
    pub fn bytes(&self) -> u64 {
        self.inner.index().values().map(|cached| cached.meta.bytes).sum()
    }

    /// Whether the newest full tree of `project` here has at most `paths` paths: a tree that
    /// small is copied into a workspace for less than the mount costs. `false` until one was
    /// made.
    pub fn is_small(&self, project: &str, paths: u64) -> bool {
        self.inner.is_small(project, paths)
    }

    /// The tree `tree` of `pin`, from the cache or made now from `sources`, held until the
    /// lease is dropped. Blocking: call it off the async threads.
    pub fn lease(&self, sources: &SourcesDir, pin: &Pin, tree: &TreeId) -> Result<Lease, String> {
        let key = key(tree);
        if let Some(lease) = self.inner.take(&key, Made::Cached) {
            return Ok(lease);
        }
        let making = self.inner.making.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lease) = self.inner.take(&key, Made::Cached) {
            return Ok(lease);
        }
        let (meta, how) = self.inner.make(sources, pin, tree, &key)?;
        let cached = Cached { meta, last_used: SystemTime::now(), leases: 0 };
        self.inner.index().insert(key.clone(), cached);
        let lease = self.inner.take(&key, how).ok_or("the tree made just now is gone")?;
        drop(making);
        self.inner.evict();
        Ok(lease)
    }
}

impl Inner {
    fn index(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tree_dir(&self, key: &str) -> PathBuf {
        self.root.join(key).join("tree")
    }

    /// A lease on `key` if it is cached, marked used now.
    fn take(self: &Arc<Self>, key: &str, how: Made) -> Option<Lease> {
        let mut index = self.index();
        let now = SystemTime::now();
        let cached = index.get_mut(key)?;
        cached.leases += 1;
        cached.last_used = now;
        let base = cached.meta.base.clone();
        let mut lower = vec![self.tree_dir(key)];
        if let Some(base) = &base {
            let below = index.get_mut(base).expect("a layer's base stays while the layer does");
            below.leases += 1;
            below.last_used = now;
            lower.push(self.tree_dir(base));
        }
        drop(index);
        // The order of eviction after a restart; losing it costs only that order.
        let _ = Meta::touch(&self.root.join(key).join("meta"));
        if let Some(base) = &base {
            let _ = Meta::touch(&self.root.join(base).join("meta"));
        }
        Some(Lease { cache: self.clone(), key: key.to_owned(), base, lower, how })
    }

    /// Makes the tree in a scratch folder, then moves it into place.
    fn make(
        &self,
        sources: &SourcesDir,
        pin: &Pin,
        tree: &TreeId,
        key: &str,
    ) -> Result<(Meta, Made), String> {
        let scratch = self.scratch();
        let result = self.make_in(sources, pin, tree, &scratch);
        let made = result.and_then(|(meta, how)| {
            meta.write(&scratch.join("meta")).map_err(|e| e.to_string())?;
            fs::rename(&scratch, self.root.join(key)).map_err(|e| e.to_string())?;
            Ok((meta, how))
        });
        if made.is_err() {
            let _ = remove_tree(&scratch);
        }
        made.map_err(|error| format!("cannot cache the sources of {pin}: {error}"))
    }

    fn make_in(
        &self,
        sources: &SourcesDir,
        pin: &Pin,
        tree: &TreeId,
        scratch: &Path,
    ) -> Result<(Meta, Made), String> {
        let files = scratch.join("tree");
        let meta = |base, bytes, paths, layerable| Meta {
            tree: tree.as_str().to_owned(),
            base,
            project: pin.project.as_str().to_owned(),
            bytes,
            paths,
            layerable,
        };
        if let Some((base_key, base_tree, base_paths)) = self.base_for(pin.project.as_str()) {
            let wrote = sources.write_layer(&base_tree, pin, &files).map_err(source_error)?;
            let fits = |paths: &usize| *paths as u64 <= LAYER_MIN.max(base_paths / LAYER_SHARE);
            if let Some(paths) = wrote.filter(fits).map(|paths| paths as u64) {
                let (bytes, _) = measure(&files).map_err(|e| e.to_string())?;
                let made = Made::Layer { paths, base: base_key.clone() };
                return Ok((meta(Some(base_key), bytes, paths, false), made));
            }
            remove_tree(&files).map_err(|e| e.to_string())?;
        }
        let layerable = sources.export_layerable(pin, &files).map_err(source_error)?;
        let (bytes, paths) = measure(&files).map_err(|e| e.to_string())?;
        Ok((meta(None, bytes, paths, layerable), Made::Full { paths }))
    }

    fn is_small(&self, project: &str, paths: u64) -> bool {
        let index = self.index();
        let newest = index
            .values()
            .filter(|c| c.meta.base.is_none() && c.meta.project == project)
            .max_by_key(|c| c.last_used);
        newest.is_some_and(|c| c.meta.paths <= paths)
    }

    /// The full tree of `project` used last that layers can be made over: its key, tree id and
    /// number of paths.
    fn base_for(&self, project: &str) -> Option<(String, TreeId, u64)> {
        let index = self.index();
        let (key, cached) = index
            .iter()
            .filter(|(_, c)| c.meta.base.is_none() && c.meta.layerable && c.meta.project == project)
            .max_by_key(|(key, c)| (c.last_used, key.as_str()))?;
        Some((key.clone(), TreeId::new(cached.meta.tree.clone()), cached.meta.paths))
    }

    /// Removes the least recently used trees until the cache fits its limit.
    fn evict(&self) {
        let removed: Vec<String> = {
            let mut index = self.index();
            let candidates: Vec<_> = index
                .iter()
                .map(|(key, c)| evict::Candidate {
                    key,
                    bytes: c.meta.bytes,
                    last_used: c.last_used,
                    leases: c.leases,
                    base: c.meta.base.as_deref(),
                })
                .collect();
            let chosen: Vec<String> =
                evict::choose(&candidates, self.limit).into_iter().map(str::to_owned).collect();
            // Out of the index and out of place at once, so nothing leases a tree being removed.
            let mut moved = Vec::new();
            for key in chosen {
                index.remove(&key);
                let scratch = self.scratch();
                if fs::rename(self.root.join(&key), &scratch).is_ok() {
                    moved.push(scratch.to_string_lossy().into_owned());
                }
            }
            moved
        };
        for scratch in removed {
            let _ = remove_tree(Path::new(&scratch));
        }
    }

    /// A fresh `tmp-*` folder name in the cache (on its file system, for the rename).
    fn scratch(&self) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root.join(format!("tmp-{}-{n}", std::process::id()))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut index = self.cache.index();
        for key in std::iter::once(&self.key).chain(&self.base) {
            if let Some(cached) = index.get_mut(key) {
                cached.leases = cached.leases.saturating_sub(1);
            }
        }
    }
}

fn source_error(error: SourceError) -> String {
    error.to_string()
}
