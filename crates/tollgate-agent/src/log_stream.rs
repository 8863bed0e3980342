//! A leased run's log, sent to the controller as it grows, so that it can be followed there.
//!
//! Lines are gathered for a moment into a piece (the run's end sends what is left at once),
//! and each piece names the byte offset it starts at: a piece sent again after a broken
//! connection is written once. The last piece says so (`end`): the run is over, and the
//! controller gives its slot to the next work item while this one reports. While the
//! controller is down the log waits here and goes when it is back; once the lease is not the
//! agent's any more (409), the rest is dropped.

use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use crate::client::{CallError, Client};

/// The most bytes in one piece.
const PIECE: usize = 256 << 10;
/// How long lines are gathered into a piece before it is sent: the log at the controller is
/// this far behind at most, while the controller is up.
const GATHER: Duration = Duration::from_millis(100);

/// Starts sending `lease`'s log; the task ends once the sender is dropped and what it was
/// given is sent (or cannot be).
pub fn start(
    client: Client,
    lease: i64,
    agent: String,
) -> (UnboundedSender<String>, JoinHandle<()>) {
    let (lines, receiver) = unbounded_channel();
    let task = tokio::spawn(send(client, lease, agent, receiver));
    (lines, task)
}

async fn send(client: Client, lease: i64, agent: String, mut lines: UnboundedReceiver<String>) {
    let mut pending: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    let mut open = true;
    let mut backoff = Duration::from_millis(200);
    // Whether the piece that said `end` was taken.
    let mut ended = false;
    loop {
        if pending.is_empty() && open {
            match lines.recv().await {
                Some(line) => pending.extend_from_slice(line.as_bytes()),
                None => open = false,
            }
        }
        if pending.is_empty() && ended {
            return;
        }
        // Lines that come soon after go in the same piece: a short work item's log is one
        // request, and a long one's a few a second.
        let gather = tokio::time::sleep(GATHER);
        tokio::pin!(gather);
        while open && pending.len() < PIECE {
            tokio::select! {
                line = lines.recv() => match line {
                    Some(line) => pending.extend_from_slice(line.as_bytes()),
                    None => open = false,
                },
                () = &mut gather => break,
            }
        }
        let take = pending.len().min(PIECE);
        let end = !open && take == pending.len();
        match client.log(lease, &agent, offset, pending[..take].to_vec(), end).await {
            Ok(length) => {
                // What the controller has: all of this piece, or part when a piece sent before
                // arrived after all.
                let sent = length.saturating_sub(offset).min(take as u64) as usize;
                pending.drain(..sent);
                offset += sent as u64;
                ended = end && pending.is_empty();
                backoff = Duration::from_millis(200);
            }
            Err(CallError::Down(_)) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                tracing::warn!(lease, %error, "the log is not taken any more");
                return;
            }
        }
    }
}
