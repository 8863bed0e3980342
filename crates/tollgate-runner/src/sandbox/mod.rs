//! Running a command in the work item's sandbox: bubblewrap (Debian `bubblewrap`).
//!
//! Every command runs in its own mount, PID, IPC and UTS namespaces, with every capability
//! dropped. The host's root is mounted read-only; `/home` and `/root` are empty tmpfs, so
//! nothing of the host's users is visible; the workspace is the agent's home (`/home/qt`) and
//! its `tmp/` is `/tmp`, both writable and private to the work item. The network is a fresh
//! namespace with loopback only, unless the configuration asks for the network (feature
//! `Network`). When the command's process ends, its PID namespace ends, and with it every
//! process it started.
//!
//! A failure of bwrap itself (it could not build the sandbox) and a failure of the command both
//! end with a non-zero status. To tell the system's fault from the change's, the command is
//! started through `sh`, which first prints [`STARTED`] on stderr and then `exec`s it: without
//! that line the sandbox never came up. The line is taken out of the log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::workspace::{AGENT_HOME, Workspace};

pub mod cleanup;
mod overlay;

pub use overlay::Overlay;

/// How commands are isolated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sandbox {
    /// bubblewrap at this path.
    Bubblewrap(PathBuf),
    /// No isolation: the user opted out, and every run says so in its log.
    Off,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "bubblewrap (`bwrap`) is not installed; install it (Debian: `apt-get install bubblewrap`) or run without a sandbox by opting out explicitly (--no-sandbox)"
    )]
    Missing,
    #[error("bubblewrap cannot build a sandbox on this machine: {0}")]
    Unusable(String),
}

/// What the sandbox prints on stderr once it is up, before the command starts.
pub(crate) const STARTED: &str = "tollgate: the sandbox is up";

impl Sandbox {
    /// bwrap from `PATH`, checked by starting one sandbox.
    pub async fn bubblewrap() -> Result<Sandbox, SandboxError> {
        let program = find_in_path("bwrap").ok_or(SandboxError::Missing)?;
        let output = Command::new(&program)
            .args(["--die-with-parent", "--unshare-pid", "--unshare-net", "--cap-drop", "ALL"])
            .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--", "true"])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|error| SandboxError::Unusable(format!("cannot start bwrap: {error}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(SandboxError::Unusable(stderr));
        }
        Ok(Sandbox::Bubblewrap(program))
    }

    pub fn is_on(&self) -> bool {
        matches!(self, Sandbox::Bubblewrap(_))
    }

    /// The command that runs `argv` for the work item; `cwd` is the agent's path.
    pub(crate) fn command(
        &self,
        workspace: &Workspace,
        argv: &[String],
        cwd: &str,
        env: &BTreeMap<String, String>,
        mounts: &Mounts<'_>,
    ) -> Result<Command, String> {
        let mut command = match self {
            Sandbox::Off => {
                let mut command = Command::new(&argv[0]);
                command.args(&argv[1..]).current_dir(workspace.host_path(cwd)?);
                command
            }
            Sandbox::Bubblewrap(program) => {
                let mut command = match workspace.sources() {
                    Some(overlay) => overlay.command(program),
                    None => Command::new(program),
                };
                command.args(bwrap_args(workspace, cwd, mounts));
                command.args(["--", "/bin/sh", "-c", "echo \"$0\" >&2 && exec \"$@\"", STARTED]);
                command.args(argv);
                command
            }
        };
        command.env_clear().envs(env);
        Ok(command)
    }

    /// The line a command's stderr starts with once the sandbox is up, if there is a sandbox.
    pub(crate) fn started_line(&self) -> Option<&'static str> {
        match self {
            Sandbox::Off => None,
            Sandbox::Bubblewrap(_) => Some(STARTED),
        }
    }
}

/// What a work item's sandbox shares with the host besides its workspace.
pub(crate) struct Mounts<'a> {
    /// The configuration asks for the network (feature `Network`).
    pub network: bool,
    /// Host folders the operator lets every work item write (a compiler cache).
    pub writable: &'a [PathBuf],
    /// Host folders no work item may see (the data folder, the store).
    pub hidden: &'a [PathBuf],
}

fn bwrap_args(workspace: &Workspace, cwd: &str, mounts: &Mounts<'_>) -> Vec<String> {
    let root = workspace.root().to_string_lossy().into_owned();
    let tmp = workspace.tmp_dir().to_string_lossy().into_owned();
    let mut args: Vec<String> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--hostname",
        "tollgate-agent",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]
    .map(str::to_owned)
    .to_vec();
    if !mounts.network {
        args.push("--unshare-net".to_owned());
    }
    let hidden = [Path::new("/home"), Path::new("/root")].into_iter().map(Path::to_owned);
    for dir in hidden.chain(mounts.hidden.iter().cloned()) {
        if dir.is_dir() {
            args.extend(["--tmpfs".to_owned(), dir.to_string_lossy().into_owned()]);
        }
    }
    for private_tmp in ["/tmp", "/var/tmp"] {
        args.extend(["--bind".to_owned(), tmp.clone(), private_tmp.to_owned()]);
    }
    args.extend(["--bind".to_owned(), root, AGENT_HOME.to_owned()]);
    for dir in mounts.writable {
        let dir = dir.to_string_lossy().into_owned();
        args.extend(["--bind".to_owned(), dir.clone(), dir]);
    }
    args.extend(["--chdir".to_owned(), cwd.to_owned()]);
    args
}

/// The executable `program` on `PATH`, if there is one.
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| {
        use std::os::unix::fs::PermissionsExt;
        candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}
