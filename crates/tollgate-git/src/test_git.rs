//! git for unit tests: the crate's controlled environment, without the user's global config,
//! with an identity for commits.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use crate::command;

/// Runs `git <args>` in `dir` with `input` on stdin; its stdout, trimmed. Panics on failure.
pub(crate) fn git(dir: &Path, args: &[&str], input: &[u8]) -> String {
    String::from_utf8(stdout(dir, args, input)).unwrap().trim().to_owned()
}

/// [`git`]'s stdout as it is.
pub(crate) fn stdout(dir: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = command::git(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "git {args:?}: {stderr}");
    output.stdout
}
