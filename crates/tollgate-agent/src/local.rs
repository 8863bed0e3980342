//! This machine's copies of what the controller holds: the sources, fetched over git as far as
//! a plan's pins need them, and the store, a cache of results and archives fetched by digest.
//! An agent plans and seeds through it before each run; `tollgate reproduce` does the same
//! for a developer.

use std::path::PathBuf;
use std::sync::Arc;

use tollgate_api::{PinView, PlanPins};
use tollgate_core::plan::{BuildKey, Plan, PlanRequest, WorkItem, plan};
use tollgate_core::source::{Pin, ProjectName, Revision};
use tollgate_sources::SourcesDir;
use tollgate_store::{Digest, LocalStore, Record, Store};

use crate::client::Client;
use crate::pinned::Pinned;

pub struct Local {
    pub client: Client,
    pub store: Arc<LocalStore>,
    pub sources: Arc<SourcesDir>,
    /// Downloads wait under `DATA_DIR/tmp` until they are stored.
    pub data_dir: PathBuf,
    /// One fetch into the sources folder at a time: two would race on a new repository.
    fetching: tokio::sync::Mutex<()>,
}

impl Local {
    pub fn new(
        client: Client,
        store: Arc<LocalStore>,
        sources: Arc<SourcesDir>,
        data_dir: PathBuf,
    ) -> Local {
        Local { client, store, sources, data_dir, fetching: tokio::sync::Mutex::new(()) }
    }

    /// The integration planned here from its pins, its sources fetched first.
    pub async fn plan(&self, pins: &PlanPins) -> Result<Plan, String> {
        {
            let _one = self.fetching.lock().await;
            for pin in &pins.fetch {
                let repo = self.sources.root().join(&pin.project);
                let url = self.client.git_url(&pin.project);
                let header = self.client.authorization().map(|a| format!("Authorization: {a}"));
                let revision = vec![pin.revision.clone()];
                blocking(move || {
                    tollgate_git::fetch_commits(&repo, &url, &revision, header.as_deref())
                })
                .await?
                .map_err(|error| {
                    format!("cannot fetch {} at {}: {error}", pin.project, pin.revision)
                })?;
            }
        }
        let request = PlanRequest {
            project: pin(&pins.project)?,
            platforms: pins.platforms.as_ref().map(pin).transpose()?,
            salt: pins.salt.clone(),
        };
        let sources = self.sources.clone();
        let revisions = pins.fetch.iter().map(pin).collect::<Result<Vec<Pin>, String>>()?;
        let planned = blocking(move || {
            let revisions = revisions.into_iter().map(|pin| (pin.project, pin.revision)).collect();
            plan(&Pinned { inner: &*sources, revisions }, &request)
        })
        .await?
        .map_err(|error| format!("cannot read the sources to plan: {error}"))?;
        if planned.has_errors() {
            let errors: Vec<String> = planned
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect();
            return Err(format!("the plan made here has errors: {}", errors.join("; ")));
        }
        Ok(planned)
    }

    /// A result the controller stored, with its archives fetched where the local store lacks
    /// them.
    pub async fn seed(&self, key: &BuildKey, record: Record) -> Result<(), String> {
        for digest in record.artifacts.values() {
            self.fetch_blob(digest).await?;
        }
        let (store, key) = (self.store.clone(), *key);
        blocking(move || store.put_record(&key, &record))
            .await?
            .map_err(|error| format!("the local store: {error}"))
    }

    /// A blob into the local store, by its digest, unless it is there: streamed to a file, and
    /// stored only when its content has that digest.
    async fn fetch_blob(&self, digest: &Digest) -> Result<(), String> {
        let (store, wanted) = (self.store.clone(), *digest);
        if blocking(move || store.contains(&wanted)).await?.unwrap_or(false) {
            return Ok(());
        }
        let scratch = self.data_dir.join("tmp");
        std::fs::create_dir_all(&scratch)
            .map_err(|error| format!("{}: {error}", scratch.display()))?;
        let temp = tempfile::NamedTempFile::new_in(&scratch)
            .map_err(|error| format!("{}: {error}", scratch.display()))?;
        self.client
            .get_blob(&digest.to_hex(), temp.path())
            .await
            .map_err(|error| format!("cannot fetch the archive {digest}: {error}"))?;
        let (store, wanted) = (self.store.clone(), *digest);
        let got = blocking(move || store.put_file_expecting(temp.path(), &wanted))
            .await?
            .map_err(|error| format!("the local store: {error}"))?;
        match got == *digest {
            true => Ok(()),
            false => Err(format!("the archive {digest} arrived with the digest {got}")),
        }
    }
}

/// The work item of `plan`, which must have the build key the controller gave it: otherwise
/// this tollgate plans otherwise than the controller's, and its run would not be the same.
pub fn find<'p>(plan: &'p Plan, work_item: &str, build_key: &str) -> Result<&'p WorkItem, String> {
    let item = plan
        .work_items()
        .find(|item| item.id.to_string() == work_item)
        .ok_or_else(|| format!("the plan made here has no work item {work_item}"))?;
    if item.build_key.to_hex() != build_key {
        return Err(format!(
            "the plan made here gives {work_item} the build key {}, the controller's {build_key}: this tollgate ({}) plans otherwise",
            item.build_key,
            env!("CARGO_PKG_VERSION")
        ));
    }
    Ok(item)
}

fn pin(view: &PinView) -> Result<Pin, String> {
    let project = ProjectName::new(&view.project)
        .ok_or_else(|| format!("`{}` is not a project name", view.project))?;
    Ok(Pin::new(project, Revision::new(view.revision.clone())))
}

pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| format!("a blocking task failed: {error}"))
}
