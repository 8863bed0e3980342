//! The runtime configuration read again while the service runs, as Coin reads its
//! `coin_configuration.json`: when the file's content changes (looked at each second, so an
//! editor's rename is seen as well as a write), or at once on SIGHUP. A file that does not
//! read is refused with its line; the runtime in force stays, and the error is shown at
//! `GET /api/config` and in the log until a good file replaces it. Only the runtime part
//! (`Runtime`) takes effect; the rest of the file is read at the next start.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tollgate_api::{AccumulationView, ParallelRuleView, PlatformClassView, RuntimeView};

use crate::config::{Config, Runtime};
use crate::controller::{Controller, lock};

/// The runtime in force, and how the last read of the file went.
pub struct Reloaded {
    current: RwLock<Arc<Runtime>>,
    status: Mutex<Status>,
}

struct Status {
    loaded_at: i64,
    error: Option<String>,
}

impl Reloaded {
    pub fn new(config: &Config) -> Reloaded {
        Reloaded {
            current: RwLock::new(Arc::new(config.runtime.clone())),
            status: Mutex::new(Status { loaded_at: tollgate_state::now_ms(), error: None }),
        }
    }

    pub fn get(&self) -> Arc<Runtime> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn set(&self, runtime: Runtime) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Arc::new(runtime);
        let mut status = lock(&self.status);
        status.loaded_at = tollgate_state::now_ms();
        status.error = None;
    }

    fn refuse(&self, error: String) {
        lock(&self.status).error = Some(error);
    }
}

impl Controller {
    /// The runtime configuration in force now.
    pub(crate) fn runtime(&self) -> Arc<Runtime> {
        self.runtime.get()
    }

    /// Reads the configuration file again; the runtime in force is replaced only by a file
    /// that reads whole.
    pub fn reload(&self) -> Result<(), String> {
        let Some(path) = &self.config.file else {
            return Err("the service was started without a configuration file".into());
        };
        match Config::read(path, self.config.data_dir.clone()) {
            Ok(config) => {
                self.pool.set_rules(config.runtime.sched_rules.clone());
                self.runtime.set(config.runtime);
                tracing::info!(file = %path.display(), "the runtime configuration was read again");
                // A deeper speculation may form at once; a shorter delay may end a wait.
                for (project, branch) in self.gated_branches() {
                    self.wake(&project, &branch);
                }
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "the configuration file was refused; the one read before stays in force");
                self.runtime.refuse(error.clone());
                Err(error)
            }
        }
    }

    /// `GET /api/config`.
    pub(crate) fn runtime_view(&self) -> RuntimeView {
        let runtime = self.runtime();
        let status = lock(&self.runtime.status);
        let speculation = &runtime.speculation;
        RuntimeView {
            file: self.config.file.as_ref().map(|file| file.display().to_string()),
            loaded_at: status.loaded_at,
            error: status.error.clone(),
            flaky_reruns: runtime.flaky_reruns,
            max_batch: runtime.max_batch,
            parallel_integration_delay_ms: runtime.parallel_integration_delay.as_millis() as u64,
            parallel_project_rules: speculation
                .parallel
                .iter()
                .map(|rule| ParallelRuleView {
                    project: unanchored(rule.project.as_str()),
                    branch: unanchored(rule.branch.as_str()),
                    depth: rule.depth,
                })
                .collect(),
            platform_classes: speculation
                .classes
                .iter()
                .map(|class| PlatformClassView { name: class.name.clone(), depth: class.depth })
                .collect(),
            sched_rules: runtime.sched_rules.len(),
            accumulation: runtime.accumulation.as_ref().map(|a| AccumulationView {
                author: a.author.as_str().to_owned(),
                delay_ms: a.delay.as_millis() as u64,
                enabled: a.enabled,
            }),
        }
    }
}

/// A whole-name pattern as it was written: `^(?:…)$` taken off.
fn unanchored(pattern: &str) -> String {
    let inner = pattern.strip_prefix("^(?:").and_then(|p| p.strip_suffix(")$"));
    inner.unwrap_or(pattern).to_owned()
}

/// Watches the configuration file and SIGHUP until the service stops.
pub async fn watch(controller: Arc<Controller>) {
    let Some(path) = controller.config.file.clone() else { return };
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "no SIGHUP handler; the file's changes are still read");
            None
        }
    };
    let mut seen = content(&path);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let forced = tokio::select! {
            () = controller.shutdown.cancelled() => return,
            Some(()) = async { hangup.as_mut()?.recv().await } => true,
            _ = tick.tick() => false,
        };
        let now = content(&path);
        if !forced && now == seen {
            continue;
        }
        seen = now;
        let _ = controller.reload();
    }
}

/// The file's bytes, or none while it cannot be read (an editor between its write and rename).
fn content(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}
