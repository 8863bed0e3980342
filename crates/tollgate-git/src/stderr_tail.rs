//! The end of a long-lived git's stderr, for the error message when it fails.
//!
//! The stderr of a process we keep talking to must be drained as it comes: a chatty git would
//! otherwise block on a full pipe while we wait for its answer. What it says last is where the
//! reason for a failure is, so that much is kept.

use std::io::{self, Read};
use std::process::ChildStderr;
use std::thread::{self, JoinHandle};

/// How much of git's stderr an error keeps: the end, where the reason is.
const STDERR_KEPT: usize = 4096;

/// Drains `stderr` on a thread named `name`; joining it, once git has exited, gives the last
/// [`STDERR_KEPT`] bytes of what git wrote.
pub(crate) fn drain(stderr: ChildStderr, name: &str) -> io::Result<JoinHandle<String>> {
    thread::Builder::new().name(name.to_owned()).stack_size(64 * 1024).spawn(|| keep_tail(stderr))
}

/// Reads `stderr` to its end, keeping the last [`STDERR_KEPT`] bytes.
fn keep_tail(mut stderr: impl Read) -> String {
    let mut kept = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        match stderr.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                kept.extend_from_slice(&buffer[..n]);
                let excess = kept.len().saturating_sub(STDERR_KEPT);
                kept.drain(..excess);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_end_of_a_long_stderr_is_kept() {
        let long = format!("{}fatal: the reason", "x".repeat(3 * STDERR_KEPT));
        let kept = keep_tail(long.as_bytes());
        assert_eq!(kept.len(), STDERR_KEPT);
        assert!(kept.ends_with("fatal: the reason"));
        assert_eq!(keep_tail(&b"short"[..]), "short");
    }
}
