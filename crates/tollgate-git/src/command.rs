//! Runs git in a controlled environment.
//!
//! Inherited `GIT_*` variables are removed: a `GIT_DIR` or `GIT_INDEX_FILE` left by a hook or
//! a parent git would point our commands at another repository. The system config is ignored,
//! prompts are off (a prompt would hang a server), and messages are in the C locale so that
//! stderr reads the same everywhere. `HOME`, and with it the user's global config, is kept: it
//! holds the operator's credentials and `safe.directory` entries. We never pass
//! `safe.directory=*`; git's ownership check stays in force.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::GitError;

/// A `git` command with the controlled environment, run in `repo`. git finds the repository
/// from there itself, so its ownership check applies as for any user.
pub(crate) fn git(repo: &Path) -> Command {
    let mut command = Command::new("git");
    for (key, _) in std::env::vars_os() {
        if key.as_encoded_bytes().starts_with(b"GIT_") {
            command.env_remove(key);
        }
    }
    command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C")
        .current_dir(repo)
        .stdin(Stdio::null());
    command
}

/// How a command is named in errors: its arguments, as typed.
pub(crate) fn describe<S: AsRef<OsStr>>(args: &[S]) -> String {
    let args: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    args.join(" ")
}

/// Runs `git <args>` to completion and hands back its output whatever the exit status; the
/// caller knows which statuses mean "not found".
pub(crate) fn output<S: AsRef<OsStr>>(repo: &Path, args: &[S]) -> Result<Output, GitError> {
    output_of(git(repo), repo, args)
}

/// [`output`] for a command prepared with [`git`] and then given more (an environment
/// variable such as `GIT_INDEX_FILE`).
pub(crate) fn output_of<S: AsRef<OsStr>>(
    mut command: Command,
    repo: &Path,
    args: &[S],
) -> Result<Output, GitError> {
    command.args(args).output().map_err(|source| GitError::Spawn {
        repo: repo.to_owned(),
        command: describe(args),
        source,
    })
}

/// Runs a command that has no "not found" answer: any failure is an error.
pub(crate) fn run<S: AsRef<OsStr>>(
    command: Command,
    repo: &Path,
    args: &[S],
) -> Result<Output, GitError> {
    let output = output_of(command, repo, args)?;
    if !output.status.success() {
        return Err(failed(repo, args, &output));
    }
    Ok(output)
}

/// The error for a command that ran and failed.
pub(crate) fn failed<S: AsRef<OsStr>>(repo: &Path, args: &[S], output: &Output) -> GitError {
    GitError::Failed {
        repo: repo.to_owned(),
        command: describe(args),
        status: output.status,
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    }
}
