//! 200 integrations of one trivial work item each (200 gated branches, one change each) on 2
//! slots: integrations per second, and the slot time per work item. The overhead over the
//! bare run is the slot time less issue 3's run of the same work item alone (store lookup,
//! workspace, sandbox, `true`, store): `cargo bench -p tollgate-runner --bench overhead`,
//! "runner, sandbox on". The time the controller holds a slot beyond the runner's own run
//! under the same load is printed too, and the CPU time per integration of everything
//! involved (this process, git, the remote's receive-pack, bwrap), which is what the wall time
//! comes down to on two busy cores.
//!
//! `cargo bench -p tollgate-controller --bench gate`. Environment: `TOLLGATE_BENCH_BRANCHES`
//! (200), `TOLLGATE_BENCH_SANDBOX=0` to run without bubblewrap, `TOLLGATE_BENCH_DIR` for the
//! folder (a tmpfs shows what the disk costs).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tollgate_api::{ChangeState, ProjectSpec, StageRequest};
use tollgate_controller::{Config, Service};

const MODULE: &str = r#"version: 2
instructions:
  Build:
    - type: ExecuteCommand
      command: ["true"]
      maxTimeInSeconds: 60
      maxTimeBetweenOutput: 60
      userMessageOnFailure: "true failed"
"#;

const PLATFORMS: &str = "Version: 2\nConfigurations:\n-\n    Id: 'linux'\n    Template: 'qtci-linux-Debian-12-x86_64-1'\n    Compiler: 'GCC'\n";

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        println!("gate: benchmark");
        return;
    }
    let branches: usize =
        std::env::var("TOLLGATE_BENCH_BRANCHES").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let sandbox = std::env::var("TOLLGATE_BENCH_SANDBOX").map_or(true, |v| v != "0");
    let tmp = match std::env::var_os("TOLLGATE_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let work = tmp.path().join("work");
    let remote = tmp.path().join("remote.git");
    std::fs::create_dir_all(work.join("coin/platform_configs")).unwrap();
    std::fs::write(work.join("coin/module_config.yaml"), MODULE).unwrap();
    std::fs::write(work.join("coin/platform_configs/app.yaml"), PLATFORMS).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    // Each setup commit would leave a detached `git maintenance run` behind, busy while the
    // integrations are measured; the developer's repository is not what is measured.
    git(&work, &["config", "maintenance.auto", "false"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "Initial"]);
    git(tmp.path(), &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    git(&work, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let mut names = Vec::new();
    let mut changes = Vec::new();
    for n in 0..branches {
        let branch = format!("b{n:03}");
        git(&work, &["branch", "-q", &branch, "main"]);
        git(&work, &["checkout", "-q", "-b", &format!("change-{n:03}"), "main"]);
        std::fs::write(work.join("change.txt"), format!("{n}\n")).unwrap();
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", &format!("Change {n}")]);
        changes.push(rev_parse(&work, "HEAD"));
        names.push(branch);
    }
    git(&work, &["push", "-q", "--all", "origin"]);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut config = Config::new(tmp.path().join("data"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.local_slots = 2;
        config.poll_interval = Duration::from_secs(3600);
        config.sandbox = sandbox;
        config.projects = vec![ProjectSpec {
            name: "bench/app".into(),
            url: format!("file://{}", remote.display()),
            branches: names.clone(),
            product: None,
        }];
        let service = Service::start(config).await.unwrap();
        let controller = &service.controller;
        let cpu_before = cpu_ms();
        let start = Instant::now();
        let mut ids = Vec::new();
        for (branch, change) in names.iter().zip(&changes) {
            let request = StageRequest {
                project: "bench/app".into(),
                branch: branch.clone(),
                changes: vec![change.clone()],
            };
            ids.push(controller.stage(&request).await.unwrap()[0].id);
        }
        let staged = start.elapsed();
        let db = controller.db();
        let mut integrations = Vec::new();
        for id in &ids {
            loop {
                let change = db.change(*id).await.unwrap().unwrap();
                if change.state.is_final() {
                    assert_eq!(change.state, ChangeState::Merged, "{:?}", change.rejection);
                    integrations.push(change.integration.unwrap());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let total = start.elapsed();
        let cpu = cpu_ms() - cpu_before;
        let mut run_ms = 0i64;
        for id in &integrations {
            for item in db.integration_view(*id, true).await.unwrap().unwrap().work_items {
                run_ms += item.finished_at.unwrap() - item.started_at.unwrap();
            }
        }
        let n = branches as f64;
        let per_item_slot_ms = total.as_secs_f64() * 1000.0 * 2.0 / n;
        let run_per_item = run_ms as f64 / n;
        println!("gate: {branches} integrations of one work item on 2 slots, sandbox {}", if sandbox { "on" } else { "off" });
        println!("  staging all:            {:.1} ms", staged.as_secs_f64() * 1000.0);
        println!("  staged to all merged:   {:.2} s", total.as_secs_f64());
        println!("  integrations/s:         {:.1}", n / total.as_secs_f64());
        println!("  slot time per item:     {per_item_slot_ms:.1} ms (wall time x 2 slots / items)");
        println!("  runner time per item:   {run_per_item:.1} ms (the work item's run, started to finished)");
        println!(
            "  slot held beyond run:   {:.1} ms per work item (slot time less the runner's time under this load)",
            per_item_slot_ms - run_per_item
        );
        println!(
            "  overhead over bare run: slot time less `cargo bench -p tollgate-runner --bench overhead` (runner, sandbox on)"
        );
        println!(
            "  CPU per integration:    {:.1} ms (this process and every process it waited for: git, the remote's receive-pack, bwrap)",
            cpu / n
        );
        service.stop().await;
    });
    if std::env::var_os("TOLLGATE_BENCH_KEEP").is_some() {
        println!("  kept:                   {}", tmp.keep().display());
    }
}

/// CPU time so far of this process and of the children it reaped, in ms (`/proc/self/stat`:
/// utime, stime, cutime, cstime, in clock ticks of 10 ms).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11..15].iter().map(|f| f.parse::<u64>().unwrap()).sum();
    ticks as f64 * 10.0
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@localhost")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@localhost")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn rev_parse(dir: &Path, name: &str) -> String {
    let out = Command::new("git").current_dir(dir).args(["rev-parse", name]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
