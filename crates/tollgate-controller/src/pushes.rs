//! One push to a remote at a time; the pushes that wait meanwhile go together in the next
//! one (a group commit). Under load the remote sees one connection, one pack and one
//! receive-pack for many integrations; an idle remote gets each push at once, with no added
//! wait. Each branch still moves by its own compare-and-swap.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tollgate_git::{BranchMove, Mirror, Push};

use crate::error::{ControllerError, blocking};

/// The push queue of one mirror. Dropping it ends its task once the queue is empty.
pub struct Pushes {
    queue: mpsc::UnboundedSender<Waiting>,
}

struct Waiting {
    step: BranchMove,
    answer: oneshot::Sender<Result<Push, ControllerError>>,
}

impl Pushes {
    pub fn new(mirror: Arc<Mirror>) -> Pushes {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(serve(mirror, waiting));
        Pushes { queue }
    }

    /// Moves the branch by compare-and-swap, alone or with others; see [`Mirror::push_all`].
    /// An `Err` means the outcome is unknown.
    pub async fn push(&self, step: BranchMove) -> Result<Push, ControllerError> {
        let (answer, answered) = oneshot::channel();
        let gone = || ControllerError::System("the push queue stopped".into());
        self.queue.send(Waiting { step, answer }).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

async fn serve(mirror: Arc<Mirror>, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let mut later: Vec<Waiting> = Vec::new();
    loop {
        if later.is_empty() {
            match waiting.recv().await {
                Some(first) => later.push(first),
                None => return,
            }
        }
        while let Ok(next) = waiting.try_recv() {
            later.push(next);
        }
        // A branch once per push; a second move of it (not made by one controller, which
        // runs one integration per branch, but cheap to respect) waits for the next.
        let mut batch: Vec<Waiting> = Vec::new();
        for next in std::mem::take(&mut later) {
            match batch.iter().any(|queued| queued.step.branch == next.step.branch) {
                true => later.push(next),
                false => batch.push(next),
            }
        }
        let moves: Vec<BranchMove> = batch.iter().map(|queued| queued.step.clone()).collect();
        let mirror = mirror.clone();
        let pushed: Vec<Result<Push, String>> =
            match blocking(move || mirror.push_all(&moves)).await {
                Ok(Ok(pushed)) => {
                    pushed.into_iter().map(|one| one.map_err(|e| e.to_string())).collect()
                }
                Ok(Err(error)) => batch.iter().map(|_| Err(error.to_string())).collect(),
                Err(error) => batch.iter().map(|_| Err(error.to_string())).collect(),
            };
        if batch.len() > 1 {
            tracing::debug!(branches = batch.len(), "pushed together");
        }
        for (queued, pushed) in batch.into_iter().zip(pushed) {
            // The integration may have stopped waiting (shutdown); the remote says later.
            let _ = queued.answer.send(pushed.map_err(ControllerError::System));
        }
    }
}
