//! Driving one integration through its phases, from whatever state the database says it is
//! in: forming (merge the changes onto the tip), running (plan, run, gate), pushing (move the
//! branch by compare-and-swap). Each phase starts by committing its transition; resuming after
//! a crash runs the phase again, which is safe because each phase checks the world first.

mod form;
mod push;
mod run;

use std::sync::Arc;

use tollgate_api::IntegrationState;
use tollgate_state::Formed;

use crate::controller::{Controller, lock};
use crate::error::ControllerError;

pub async fn drive(
    controller: &Arc<Controller>,
    integration: Formed,
) -> Result<(), ControllerError> {
    let cancel = controller.shutdown.child_token();
    lock(&controller.running).insert(integration.id, cancel.clone());
    let result = phases(controller, integration.clone(), &cancel).await;
    lock(&controller.running).remove(&integration.id);
    match result {
        // A transition refused because the integration ended meanwhile: a user cancelled it,
        // or one ahead of it ended without merging.
        Err(ControllerError::Conflict(_)) if cancel.is_cancelled() => Ok(()),
        Err(ControllerError::Conflict(why)) => {
            match controller.db.integration(integration.id).await? {
                Some(now) if now.state.is_final() => Ok(()),
                _ => Err(ControllerError::Conflict(why)),
            }
        }
        other => other,
    }
}

async fn phases(
    controller: &Arc<Controller>,
    mut integration: Formed,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), ControllerError> {
    let project = controller.db.project(&integration.project).await?.ok_or_else(|| {
        ControllerError::System(format!("project {} is no longer configured", integration.project))
    })?;
    let mirror = controller.mirrors.mirror(&project.spec.name, &project.spec.url).await?;
    // Pushing when the drive starts: a previous run may have pushed already.
    let resumed_push = integration.state == IntegrationState::Pushing;
    if integration.state == IntegrationState::Forming && integration.commit.is_none() {
        if form::merge(controller, &mirror, &integration).await?.is_none() {
            return Ok(());
        }
        integration = reload(controller, integration.id).await?;
    }
    if matches!(integration.state, IntegrationState::Forming | IntegrationState::Running) {
        if cancel.is_cancelled() {
            return Ok(());
        }
        run::run(controller, &integration, &project, cancel).await?;
        integration = reload(controller, integration.id).await?;
    }
    if integration.state == IntegrationState::Pushing {
        push::push(controller, &project, &mirror, &integration, resumed_push).await?;
    }
    Ok(())
}

/// A commit id the state recorded; one that does not parse is the system's fault.
fn commit_id(text: &str) -> Result<tollgate_git::CommitId, tollgate_git::GitError> {
    tollgate_git::CommitId::parse(text)
        .ok_or_else(|| tollgate_git::GitError::Invalid { what: "commit id", name: text.to_owned() })
}

async fn reload(controller: &Controller, id: i64) -> Result<Formed, ControllerError> {
    controller
        .db
        .integration(id)
        .await?
        .ok_or_else(|| ControllerError::System(format!("integration {id} vanished")))
}

impl Controller {
    /// Stops an integration that has not been decided: its changes go back to staged (the
    /// transition is committed first), then its running work items are killed.
    pub async fn cancel(&self, id: i64) -> Result<tollgate_api::IntegrationView, ControllerError> {
        let integration = self
            .db
            .integration(id)
            .await?
            .ok_or_else(|| ControllerError::NotFound(format!("no integration {id}")))?;
        match integration.state {
            IntegrationState::Forming | IntegrationState::Running => {}
            IntegrationState::Pushing => {
                return Err(ControllerError::Conflict(format!(
                    "integration {id} passed and its branch is being moved; it can no longer be cancelled"
                )));
            }
            ended => {
                return Err(ControllerError::Conflict(format!(
                    "integration {id} already ended: {}",
                    ended.as_str()
                )));
            }
        }
        self.db.give_back(&integration, IntegrationState::Cancelled, "cancelled by a user").await?;
        if let Some(token) = lock(&self.running).get(&id) {
            token.cancel();
        }
        tracing::info!(integration = id, "cancelled");
        self.wake(&integration.project, &integration.branch);
        Ok(self.db.integration_view(id, true).await?.expect("read just now"))
    }
}
