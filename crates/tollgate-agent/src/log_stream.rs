//! A leased run's log, sent to the controller as it grows, so that it can be followed there.
//!
//! The runner writes the log to a file and says how long it is; the sender reads what is new
//! from the file. Lines are gathered for a moment into a piece (the run's end sends what is left at once),
//! and each piece names the byte offset it starts at: a piece sent again after a broken
//! connection is written once. The last piece says so (`end`): the run is over, and the
//! controller gives its slot to the next work item while this one reports. While the
//! controller is down the log waits here and goes when it is back; once the lease is not the
//! agent's any more (409), the rest is dropped.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{CallError, Client};

/// The most bytes in one piece.
const PIECE: u64 = 256 << 10;
/// How long lines are gathered into a piece before it is sent: the log at the controller is
/// this far behind at most, while the controller is up, so that a line reaches a follower
/// there well within 100 ms; a work item that prints slowly costs 20 requests a second.
const GATHER: Duration = Duration::from_millis(50);

/// Starts sending `lease`'s log, which the runner writes at `path` and whose length it tells
/// the sender it returns; the task ends once that sender is dropped (the log is sealed) and
/// the whole file is sent (or cannot be). What is not sent yet waits in the file, not in
/// memory, however far the controller falls behind.
pub fn start(
    client: Client,
    lease: i64,
    agent: String,
    path: PathBuf,
) -> (watch::Sender<u64>, JoinHandle<()>) {
    let (length, written) = watch::channel(0);
    let task = tokio::spawn(send(client, lease, agent, path, written));
    (length, task)
}

async fn send(
    client: Client,
    lease: i64,
    agent: String,
    path: PathBuf,
    mut written: watch::Receiver<u64>,
) {
    // What the controller has.
    let mut offset = 0u64;
    let mut open = true;
    let mut backoff = Duration::from_millis(200);
    loop {
        if open && *written.borrow_and_update() <= offset && written.changed().await.is_err() {
            open = false;
        }
        // Lines that come soon after go in the same piece: a short work item's log is one
        // request, and a long one's a few a second.
        let gather = tokio::time::sleep(GATHER);
        tokio::pin!(gather);
        while open && *written.borrow() < offset + PIECE {
            tokio::select! {
                changed = written.changed() => if changed.is_err() { open = false },
                () = &mut gather => break,
            }
        }
        // Once the log is sealed, the file's length is all of it.
        let length = match open {
            true => *written.borrow(),
            false => std::fs::metadata(&path).map_or(0, |m| m.len()),
        };
        let take = length.saturating_sub(offset).min(PIECE);
        let end = !open && offset + take == length;
        if take == 0 && !end {
            continue;
        }
        let piece = match read_at(&path, offset, take).await {
            Ok(piece) => piece,
            Err(error) => {
                tracing::warn!(lease, %error, "cannot read the log to send it");
                return;
            }
        };
        match client.log(lease, &agent, offset, piece, end).await {
            Ok(at_controller) => {
                // What the controller has: all of this piece, or part when a piece sent before
                // arrived after all.
                offset += at_controller.saturating_sub(offset).min(take);
                if end && offset == length {
                    return;
                }
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

/// `take` bytes of the file at `offset`; nothing when there is no file (a reused result
/// writes none).
async fn read_at(path: &Path, offset: u64, take: u64) -> std::io::Result<Vec<u8>> {
    if take == 0 {
        return Ok(Vec::new());
    }
    let path = path.to_owned();
    let read = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)?;
        let mut piece = vec![0; take as usize];
        file.read_exact_at(&mut piece, offset)?;
        Ok(piece)
    });
    read.await.map_err(std::io::Error::other)?
}
