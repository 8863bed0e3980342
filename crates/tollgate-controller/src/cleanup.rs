//! What a killed controller leaves behind: workspaces, scratch archives, and processes of
//! work items that ran without the sandbox (in the sandbox, `--die-with-parent` ends them with
//! the controller). Removed before anything new starts.

use std::path::Path;

/// Kills processes working in a workspace, then empties the work and scratch folders.
pub async fn stale_runs(work_root: &Path, scratch: &Path) {
    let work_root = work_root.to_owned();
    let scratch = scratch.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        let killed = kill_processes_under(&work_root);
        if killed > 0 {
            tracing::warn!(killed, "killed processes left from the previous run");
        }
        for folder in [&work_root, &scratch] {
            let Ok(entries) = std::fs::read_dir(folder) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let removed = match entry.file_type() {
                    Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path),
                    _ => std::fs::remove_file(&path),
                };
                match removed {
                    Ok(()) => tracing::info!(path = %path.display(), "removed a stale workspace"),
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "cannot remove a stale workspace")
                    }
                }
            }
        }
    })
    .await;
}

/// Processes whose working directory is under `root`, found through `/proc`, killed with
/// their process group.
fn kill_processes_under(root: &Path) -> usize {
    let Ok(root) = root.canonicalize() else { return 0 };
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else { continue };
        if !cwd.starts_with(&root) || pid == std::process::id() as i32 {
            continue;
        }
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            killed += 1;
        }
    }
    killed
}
