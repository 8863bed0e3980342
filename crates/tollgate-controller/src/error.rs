//! What the service answers when it cannot do what it was asked.

use tollgate_state::StateError;

/// The caller's mistakes are answered as such; everything else is the system's fault and is
/// never reported as the change's.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The caller's token does not allow this (another agent's name).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    System(String),
}

impl From<StateError> for ControllerError {
    fn from(error: StateError) -> ControllerError {
        match error {
            StateError::NotFound(message) => ControllerError::NotFound(message),
            StateError::Conflict(message) => ControllerError::Conflict(message),
            other => ControllerError::System(other.to_string()),
        }
    }
}

impl From<tollgate_git::GitError> for ControllerError {
    fn from(error: tollgate_git::GitError) -> ControllerError {
        ControllerError::System(error.to_string())
    }
}

/// Runs blocking work (git, planning, the store) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ControllerError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ControllerError::System(format!("a worker thread failed: {error}")))
}
