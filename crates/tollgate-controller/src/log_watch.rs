//! Who follows which log: a follower waits for the next write of its log file rather than
//! looking at the file on a timer, so a line reaches a browser as soon as it is written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::sync::watch;

use crate::controller::lock;

#[derive(Default)]
pub(crate) struct LogWatch {
    /// A counter of writes per followed log; a log nobody follows has no entry.
    followed: Mutex<HashMap<PathBuf, watch::Sender<u64>>>,
}

impl LogWatch {
    /// Changes after each write of the log at `path` from now on.
    pub fn follow(&self, path: &Path) -> watch::Receiver<u64> {
        let mut followed = lock(&self.followed);
        match followed.get(path) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = watch::channel(0);
                followed.insert(path.to_owned(), sender);
                receiver
            }
        }
    }

    /// The log at `path` was written to: its followers look. A log whose followers all left
    /// is forgotten.
    pub fn wrote(&self, path: &Path) {
        let mut followed = lock(&self.followed);
        if let Some(sender) = followed.get(path) {
            if sender.receiver_count() == 0 {
                followed.remove(path);
            } else {
                sender.send_modify(|count| *count += 1);
            }
        }
    }
}
