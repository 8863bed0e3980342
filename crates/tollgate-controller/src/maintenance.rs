//! git's upkeep of the mirrors ([`Mirror::maintain`](tollgate_git::Mirror::maintain)): packed
//! refs, packed objects, the commit-graph. One background task does it for every mirror, one
//! after the other, so it is never on the request path and never runs twice at once on a
//! mirror. A mirror is maintained once after startup (the sweep may have left thousands of
//! refs to pack), then after every `maintenance_every` finished integrations of its project,
//! and at least hourly (fetches bring objects too). A failure is logged and tried again next
//! time; no integration waits for it or hears of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::controller::{Controller, lock};
use crate::error::blocking;

/// The longest a mirror goes without upkeep while the service runs.
const HOURLY: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub(crate) struct Upkeep {
    wake: Notify,
    /// Finished integrations per project since its mirror's last upkeep.
    integrated: Mutex<HashMap<String, u32>>,
}

impl Controller {
    /// Counts a finished integration of `project`; every `maintenance_every`, its mirror is due.
    pub(crate) fn integrated(&self, project: &str) {
        let mut counts = lock(&self.upkeep.integrated);
        let count = counts.entry(project.to_owned()).or_default();
        *count += 1;
        if *count >= self.config.maintenance_every {
            self.upkeep.wake.notify_one();
        }
    }
}

pub async fn run(controller: Arc<Controller>) {
    let mut last: HashMap<String, Instant> = HashMap::new();
    loop {
        for (project, mirror) in controller.mirrors.all_opened() {
            let integrated = lock(&controller.upkeep.integrated).get(&project).copied();
            let due = match last.get(&project) {
                None => true,
                Some(at) => {
                    integrated.unwrap_or(0) >= controller.config.maintenance_every
                        || at.elapsed() >= HOURLY
                }
            };
            if !due {
                continue;
            }
            // Reset before: integrations that end meanwhile count towards the next time.
            lock(&controller.upkeep.integrated).remove(&project);
            last.insert(project.clone(), Instant::now());
            let started = Instant::now();
            let path = mirror.path().display().to_string();
            match blocking(move || mirror.maintain()).await.and_then(|done| Ok(done?)) {
                Ok(()) => tracing::debug!(project, took = ?started.elapsed(), "mirror maintained"),
                Err(error) => {
                    tracing::warn!(project, mirror = path, %error, "git's upkeep of the mirror failed; it is tried again later");
                }
            }
            if controller.shutdown.is_cancelled() {
                return;
            }
        }
        tokio::select! {
            () = controller.shutdown.cancelled() => return,
            () = controller.upkeep.wake.notified() => {}
            () = tokio::time::sleep(HOURLY) => {}
        }
    }
}
