//! What a killed controller or agent leaves behind: workspaces, scratch archives, and processes of
//! work items that ran without the sandbox (in the sandbox, `--die-with-parent` ends them with
//! the controller or agent). Removed before anything new starts.

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
                    // A workspace's sources layer holds overlayfs's folder without permissions.
                    Ok(kind) if kind.is_dir() => crate::workspace::remove_tree(&path),
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

#[cfg(test)]
mod tests {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Command;

    #[tokio::test]
    async fn processes_working_in_a_stale_workspace_are_killed_and_the_folders_emptied() {
        let tmp = tempfile::tempdir().unwrap();
        let (work, scratch, elsewhere) =
            (tmp.path().join("work"), tmp.path().join("tmp"), tmp.path().join("elsewhere"));
        for folder in [work.join("app-linux-build/work/sub"), scratch.clone(), elsewhere.clone()] {
            std::fs::create_dir_all(folder).unwrap();
        }
        std::fs::write(scratch.join("upload.tar.zst"), "half").unwrap();
        let sleep = |dir: &std::path::Path, own_group: bool| {
            let mut command = Command::new("sleep");
            command.arg("60").current_dir(dir);
            if own_group {
                command.process_group(0);
            }
            command.spawn().unwrap()
        };
        // A build's shell in its own group, a child of it deeper in the tree, and a process
        // that has nothing to do with the workspaces.
        let mut leader = sleep(&work.join("app-linux-build"), true);
        let mut deeper = sleep(&work.join("app-linux-build/work/sub"), false);
        let mut bystander = sleep(&elsewhere, true);

        super::stale_runs(&work, &scratch).await;

        // Killed before `stale_runs` returned, so these waits end at once; a process left
        // running would end on its own after 60 s, unkilled, and fail the assertion.
        for child in [&mut leader, &mut deeper] {
            assert_eq!(child.wait().unwrap().signal(), Some(9), "killed");
        }
        assert_eq!(bystander.try_wait().unwrap(), None, "a process elsewhere is left alone");
        bystander.kill().unwrap();
        bystander.wait().unwrap();
        assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0, "workspaces removed");
        assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0, "scratch emptied");
        assert!(elsewhere.exists());
    }
}
