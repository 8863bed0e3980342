//! Bare mirrors of the projects' remotes under `DATA_DIR/mirrors/<project>`, fetched
//! incrementally. Planning reads them as a sources folder; merges and pushes run in them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tollgate_git::Mirror;
use tollgate_sources::SourcesDir;

use crate::error::{ControllerError, blocking};
use crate::pushes::Pushes;

pub struct Mirrors {
    root: PathBuf,
    sources: Arc<SourcesDir>,
    mirrors: Mutex<HashMap<String, Arc<Guarded>>>,
}

/// One mirror, with a lock so that two fetches of it never race on its refs, and its push
/// queue.
struct Guarded {
    mirror: Arc<Mirror>,
    fetching: tokio::sync::Mutex<()>,
    pushes: Arc<Pushes>,
}

impl Mirrors {
    pub fn new(root: PathBuf) -> Mirrors {
        let sources = Arc::new(SourcesDir::new(root.clone()));
        Mirrors { root, sources, mirrors: Mutex::new(HashMap::new()) }
    }

    /// The folder of the mirrors, one bare repository per project.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The mirrors as a sources folder, for planning and for work items' sources.
    pub fn sources(&self) -> &Arc<SourcesDir> {
        &self.sources
    }

    /// The project's mirror, created on first use; its URL follows the project's.
    pub async fn mirror(&self, project: &str, url: &str) -> Result<Arc<Mirror>, ControllerError> {
        Ok(self.guarded(project, url).await?.mirror.clone())
    }

    async fn guarded(&self, project: &str, url: &str) -> Result<Arc<Guarded>, ControllerError> {
        if let Some(guarded) = self.lock().get(project)
            && guarded.mirror.url() == url
        {
            return Ok(guarded.clone());
        }
        let path = self.root.join(project);
        let url_owned = url.to_owned();
        let mirror = blocking(move || Mirror::open(path, &url_owned)).await??;
        let mirror = Arc::new(mirror);
        let pushes = Arc::new(Pushes::new(mirror.clone()));
        let guarded = Arc::new(Guarded { mirror, fetching: tokio::sync::Mutex::new(()), pushes });
        self.lock().insert(project.to_owned(), guarded.clone());
        Ok(guarded)
    }

    /// The project's mirror if this run has opened it; it is never opened here.
    pub fn opened(&self, project: &str) -> Option<Arc<Mirror>> {
        self.lock().get(project).map(|guarded| guarded.mirror.clone())
    }

    /// Every mirror this run has opened, by project.
    pub fn all_opened(&self) -> Vec<(String, Arc<Mirror>)> {
        let mirrors = self.lock();
        mirrors.iter().map(|(project, guarded)| (project.clone(), guarded.mirror.clone())).collect()
    }

    /// The push queue of the project's mirror.
    pub async fn pushes(&self, project: &str, url: &str) -> Result<Arc<Pushes>, ControllerError> {
        Ok(self.guarded(project, url).await?.pushes.clone())
    }

    /// Fetches the project's branches and staging refs.
    pub async fn fetch(&self, project: &str, url: &str) -> Result<Arc<Mirror>, ControllerError> {
        let guarded = self.guarded(project, url).await?;
        let _fetching = guarded.fetching.lock().await;
        let mirror = guarded.mirror.clone();
        blocking(move || mirror.fetch()).await??;
        Ok(guarded.mirror.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Guarded>>> {
        self.mirrors.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
