//! A long-lived git that we talk to through pipes (`cat-file --batch-command`,
//! `update-ref --stdin`), started the one way both need.
//!
//! Its stderr must be drained as it comes: a chatty git would otherwise block on a full pipe
//! while we wait for its answer. What it says last is where the reason for a failure is, so
//! that much is kept for the error message.

use std::io::{self, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Stdio};
use std::thread::{self, JoinHandle};

use crate::{GitError, command};

/// How much of git's stderr an error keeps: the end, where the reason is.
const STDERR_KEPT: usize = 4096;

/// A running git with its pipes.
pub(crate) struct Piped {
    pub child: Child,
    pub stdin: ChildStdin,
    pub stdout: BufReader<ChildStdout>,
    /// Joined once git has exited: the last [`STDERR_KEPT`] bytes of what it wrote.
    pub stderr: JoinHandle<String>,
}

/// Starts `git <args>` in `repo` with its three pipes, its stderr drained on a thread named
/// `drain`.
pub(crate) fn spawn(repo: &Path, args: &[&str], drain: &str) -> Result<Piped, GitError> {
    let spawn_error = |source| GitError::Spawn {
        repo: repo.to_owned(),
        command: command::describe(args),
        source,
    };
    let mut child = command::git(repo)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    let stderr = child.stderr.take().expect("piped");
    match drain_thread(stderr, drain) {
        Ok(stderr) => Ok(Piped { child, stdin, stdout, stderr }),
        Err(source) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(spawn_error(source))
        }
    }
}

fn drain_thread(stderr: ChildStderr, name: &str) -> io::Result<JoinHandle<String>> {
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
