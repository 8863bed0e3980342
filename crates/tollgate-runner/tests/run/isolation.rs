//! What the sandbox keeps a work item from: the host's files, the network, other work items.

use std::net::TcpListener;

use crate::harness::*;

#[tokio::test]
async fn writes_outside_the_workspace_fail() {
    let h = Harness::new().await;
    let outside = h.outside();
    h.app(
        &[],
        &format!(
            r#"
    - type: ExecuteCommand
      command: ["sh", "-c", "touch /etc/tollgate-probe; touch /usr/tollgate-probe; touch {outside}/probe; mount -o remount,rw / 2>&1 | head -c 0; touch /tollgate-probe; echo tried"]
    - type: ExecuteCommand
      command: ["sh", "-c", "touch ~/home-file /tmp/tmp-file {{{{.AgentWorkingDir}}}}/work-file && echo written"]
"#,
            outside = outside.display()
        ),
    );
    let run = h.build().await;
    run.assert_passed();
    assert_eq!(run.out(), ["tried", "written"]);
    assert!(run.log.contains("Read-only file system"), "{}", run.log);
    for path in ["/etc/tollgate-probe", "/usr/tollgate-probe", "/tollgate-probe"] {
        assert!(!std::path::Path::new(path).exists(), "{path}");
    }
    assert!(!outside.join("probe").exists());
}

#[tokio::test]
async fn the_host_runner_refuses_paths_outside_the_workspace_and_links_out_of_it() {
    let h = Harness::new().await;
    let outside = h.outside();
    h.app(
        &[],
        &format!(
            r#"
    - type: ExecuteCommand
      command: ["ln", "-s", "{outside}", "{{{{.AgentWorkingDir}}}}/escape"]
    - type: WriteFile
      filename: "{{{{.AgentWorkingDir}}}}/escape/written-by-the-runner"
      fileContents: "should not exist"
"#,
            outside = outside.display()
        ),
    );
    let run = h.build().await;
    assert!(
        run.failure().contains("leads out of the work item's folders through a link"),
        "{}",
        run.failure()
    );
    assert!(!outside.join("written-by-the-runner").exists());

    h.app(&[], "    - type: MakeDirectory\n      directory: /etc/tollgate\n");
    let run = h.build().await;
    assert!(
        run.failure().contains("`/etc/tollgate` is outside the work item's folders (/home/qt)")
    );
}

/// Connects to a listener on the host's loopback from inside the work item.
fn connect_to(port: u16) -> String {
    format!(
        "    - type: ExecuteCommand\n      command: [\"bash\", \"-c\", \"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected\"]\n"
    )
}

#[tokio::test]
async fn the_network_is_off_unless_the_configuration_asks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = Harness::new().await;
    h.app(&[], &connect_to(port));
    let run = h.build().await;
    assert!(run.failure().contains("exited with code 1"), "{}", run.log);
    assert!(run.log.contains("Connection refused"), "{}", run.log);

    h.app(&["Network"], &connect_to(port));
    let run = h.build().await;
    run.assert_passed();
    assert_eq!(run.out(), ["connected"]);
}

#[tokio::test]
async fn a_work_item_sees_no_other_workspace_and_no_host_home() {
    let mut h = Harness::new().await;
    // A data folder outside /home, /root and the temporary folders, as in an installation, so
    // that only hiding it keeps it out of sight of the read-only root.
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    h.options = tollgate_runner::RunnerOptions::new(data.path());
    h.options.keep_workspaces = true;
    h.app(&[], "    - type: ExecuteCommand\n      command: [\"true\"]\n");
    let first = h.build().await;
    first.assert_passed();
    let kept = first.finished.workspace.clone().unwrap();
    assert!(kept.starts_with(data.path()));
    let host_home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    h.app(
        &[],
        &format!(
            "    - type: ExecuteCommand\n      command: [\"sh\", \"-c\", \"ls -A {data} | wc -l; test -e {kept} && echo visible || echo hidden; ls -A {host_home} 2>/dev/null | wc -l; ls /home\"]\n",
            data = data.path().display(),
            kept = kept.display(),
        ),
    );
    let second = h.build().await;
    second.assert_passed();
    // The data folder is empty, the other workspace is not there, the host user's home is
    // empty, and /home holds only the agent's.
    assert_eq!(second.out(), ["0", "hidden", "0", "qt"], "{}", second.log);
}

#[tokio::test]
async fn without_the_sandbox_every_run_says_so() {
    let h = Harness::unsandboxed();
    h.app(&[], "    - type: ExecuteCommand\n      command: [\"sh\", \"-c\", \"echo $HOME\"]\n");
    let run = h.build().await;
    run.assert_passed();
    assert!(run.log.contains("WARNING: no sandbox"), "{}", run.log);
    // The agent's home is then the workspace on the host.
    assert!(run.out()[0].starts_with(h.options.work_root.to_str().unwrap()), "{:?}", run.out());
}
