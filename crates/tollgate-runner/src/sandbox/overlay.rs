//! A work item's sources as an overlayfs mount: the cached tree (one or two read-only layers)
//! below, a folder of the workspace above that takes every write, so the work item may change
//! and delete its sources freely and the cached tree stays pristine for the next one.
//!
//! The mount lives in a mount namespace of its own, held by a small process for as long as the
//! work item runs: `unshare` (in a user namespace too unless we are root, which Linux allows
//! for overlayfs since 5.11) mounts it and then waits as `cat` on a pipe that only this
//! process writes. When the runner drops it, or dies, the pipe closes, `cat` ends, and the
//! kernel takes the mount away with the namespace: a killed service leaves no mount behind.
//! Commands enter that namespace through `nsenter` before bubblewrap builds their sandbox, and
//! the runner's own file operations reach the mount through `/proc/PID/root`.
//!
//! util-linux's `unshare`, `nsenter` and `mount` are part of every Debian system.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

/// The mount and the process that holds its namespace.
#[derive(Debug)]
pub struct Overlay {
    holder: Child,
    /// The holder's root: the host's files, with the mount.
    view: PathBuf,
    /// Entering needs the user namespace too.
    user_namespace: bool,
}

impl Overlay {
    /// Mounts `lower` (uppermost first) with `upper` and `work` (empty folders on one file
    /// system) at `target`, an existing folder. A path overlayfs cannot take in its options
    /// (`,` `:` `\`, or not UTF-8) is refused.
    pub fn mount(
        lower: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<Overlay, String> {
        let text = |path: &Path| match path.to_str() {
            Some(text) if !text.contains([',', ':', '\\']) => Ok(text.to_owned()),
            _ => Err(format!("overlayfs cannot take the path {}", path.display())),
        };
        let lower: Vec<String> = lower.iter().map(|dir| text(dir)).collect::<Result<_, _>>()?;
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            text(upper)?,
            text(work)?
        );
        let user_namespace = !rustix::process::geteuid().is_root();
        // Outside the first user namespace overlayfs may not write `trusted.*` attributes (it
        // needs them to remove a folder of a lower layer): it writes `user.overlay.*` instead.
        let options = match user_namespace {
            true => format!("{options},userxattr"),
            false => options,
        };
        let mut unshare = Command::new("unshare");
        unshare.args(["--mount", "--propagation", "private"]);
        if user_namespace {
            unshare.args(["--user", "--map-root-user"]);
        }
        let script = "mount -t overlay overlay -o \"$1\" \"$2\" && echo ready && exec cat";
        unshare.args(["--", "/bin/sh", "-c", script, "sh", &options]).arg(target);
        let mut holder = unshare
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start unshare: {error}"))?;
        let stdout = holder.stdout.take().expect("piped");
        if ready(stdout) {
            let view = PathBuf::from(format!("/proc/{}/root", holder.id()));
            return Ok(Overlay { holder, view, user_namespace });
        }
        let _ = holder.kill();
        let _ = holder.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = holder.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        Err(format!("cannot mount overlayfs: {}", stderr.trim()))
    }

    /// The host's files as the mount's namespace sees them: `view().join(path without /)`.
    pub fn view(&self) -> &Path {
        &self.view
    }

    /// A command that runs `program` in the mount's namespace, through `nsenter`.
    pub fn command(&self, program: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(nsenter());
        command.args(["--target", &self.holder.id().to_string(), "--mount"]);
        if self.user_namespace {
            // As root of the namespace, with its capabilities, so that bwrap can build its
            // sandbox; the namespace allows no setgroups, which a plain `--user` would call.
            command.args(["--user", "--preserve-credentials"]);
        }
        command.arg("--").arg(program);
        command
    }
}

impl Drop for Overlay {
    /// Ends the holder, and with it the mount.
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Waits for the holder's `ready` line; `false` when it ended first.
fn ready(stdout: ChildStdout) -> bool {
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).is_ok() && line.trim() == "ready"
}

/// `nsenter` from this process's `PATH`, found once: the command's own environment is the work
/// item's, whose `PATH` may not have it.
fn nsenter() -> &'static Path {
    static NSENTER: OnceLock<PathBuf> = OnceLock::new();
    NSENTER
        .get_or_init(|| super::find_in_path("nsenter").unwrap_or_else(|| "/usr/bin/nsenter".into()))
}
