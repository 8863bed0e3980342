//! How soon a line a work item writes reaches the clients that follow its log over
//! server-sent events (`/api/log/stream`): a work item prints the wall clock in nanoseconds
//! every 10 ms, and each client takes the time it read the line less the time printed in it.
//! Printed: p50, p99 and the worst over every line of every client, for 1 client and for 200
//! following the same log at once. The work item waits 2 s before its first line, so that
//! every client is connected by then: a client that connects late reads what it missed at
//! once, and that catching up is not the stream's delay.
//!
//! `cargo bench -p tollgate-controller --bench streams`. Environment: `TOLLGATE_BENCH_LINES`
//! (500 per run), `TOLLGATE_BENCH_CLIENTS` (200).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tollgate_api::sse::SseParser;
use tollgate_api::{ProjectSpec, StageRequest};
use tollgate_controller::{Config, Service};

fn module(lines: usize) -> String {
    format!(
        r#"version: 2
instructions:
  Build:
    - type: ExecuteCommand
      command: ["sh", "-c", "sleep 2; i=0; while [ $i -lt {lines} ]; do date +%s%N; i=$((i+1)); sleep 0.01; done"]
      maxTimeInSeconds: 600
      maxTimeBetweenOutput: 60
      userMessageOnFailure: "the printer failed"
"#
    )
}

const ITEM: &str = "bench/app:linux:Build";

const PLATFORMS: &str = "Version: 2\nConfigurations:\n-\n    Id: 'linux'\n    Template: 'qtci-linux-Debian-12-x86_64-1'\n    Compiler: 'GCC'\n";

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        println!("streams: benchmark");
        return;
    }
    let number = |name: &str, default: usize| {
        std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
    };
    let lines = number("TOLLGATE_BENCH_LINES", 500);
    let clients = number("TOLLGATE_BENCH_CLIENTS", 200);
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let remote = tmp.path().join("remote.git");
    std::fs::create_dir_all(work.join("coin/platform_configs")).unwrap();
    std::fs::write(work.join("coin/module_config.yaml"), module(lines)).unwrap();
    std::fs::write(work.join("coin/platform_configs/app.yaml"), PLATFORMS).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["config", "maintenance.auto", "false"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "Initial"]);
    git(tmp.path(), &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    git(&work, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(&work, &["push", "-q", "origin", "main"]);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut config = Config::new(tmp.path().join("data"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.local_slots = 1;
        config.poll_interval = Duration::from_secs(3600);
        config.projects = vec![ProjectSpec {
            name: "bench/app".into(),
            url: format!("file://{}", remote.display()),
            branches: vec!["main".into()],
            product: None,
        }];
        let service = Service::start(config).await.unwrap();
        for (run, followers) in [1, clients].into_iter().enumerate() {
            // A change each run, on the branch as the last run left it, so that the work item
            // runs again (a new build key).
            git(&work, &["fetch", "-q", "origin"]);
            git(&work, &["checkout", "-q", "-B", &format!("run-{run}"), "origin/main"]);
            std::fs::write(work.join("run.txt"), format!("{run}\n")).unwrap();
            git(&work, &["add", "-A"]);
            git(&work, &["commit", "-q", "-m", &format!("Run {run}")]);
            git(&work, &["push", "-q", "origin", &format!("run-{run}")]);
            let commit = git(&work, &["rev-parse", "HEAD"]);
            let request = StageRequest {
                project: "bench/app".into(),
                branch: "main".into(),
                changes: vec![commit.trim().to_owned()],
            };
            let controller = &service.controller;
            let change = controller.stage(&request).await.unwrap()[0].id;
            let db = controller.db();
            let integration =
                until(db, async || db.change(change).await.unwrap().unwrap().integration).await;
            // Followed once it is planned: before, the work item is not known (404).
            until(db, async || db.item_state(integration, ITEM).await.unwrap()).await;
            let url = format!(
                "http://{}/api/log/stream?item={ITEM}&integration={integration}",
                service.addr
            );
            let tasks: Vec<_> = (0..followers).map(|_| tokio::spawn(follow(url.clone()))).collect();
            let mut latencies = Vec::new();
            for task in tasks {
                latencies.extend(task.await.unwrap());
            }
            latencies.sort_by(f64::total_cmp);
            let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
            println!(
                "streams: {followers} following one log: {} lines; line to client p50 {:.2} ms, p99 {:.2} ms, worst {:.2} ms",
                latencies.len(),
                at(0.5),
                at(0.99),
                latencies.last().unwrap()
            );
            assert_eq!(latencies.len(), lines * followers, "every client got every line");
            // Merged before the next run is made on top of it.
            let ended = until(db, async || {
                let now = db.change(change).await.unwrap().unwrap();
                now.state.is_final().then_some(now)
            })
            .await;
            assert_eq!(ended.state, tollgate_api::ChangeState::Merged, "{:?}", ended.rejection);
        }
        service.stop().await;
    });
}

/// Looks again after each write of the state until `check` answers.
async fn until<T>(db: &tollgate_state::Db, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let mut writes = db.writes();
    loop {
        if let Some(answer) = check().await {
            return answer;
        }
        writes.changed().await.unwrap();
    }
}

/// Follows the log to its end; the delay of each line printed by the work item, in ms.
async fn follow(url: String) -> Vec<f64> {
    let mut response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut parser = SseParser::default();
    let mut delays = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as f64;
        parser.push(&chunk);
        while let Some(event) = parser.next_event() {
            if event.event == "end" {
                return delays;
            }
            for line in event.data.lines() {
                // `TIME out 1796644000123456789`: the printer's lines only.
                let mut fields = line.splitn(3, ' ');
                let (_, stream, text) = (fields.next(), fields.next(), fields.next());
                if stream == Some("out")
                    && let Some(printed) = text.and_then(|t| t.trim().parse::<f64>().ok())
                {
                    delays.push((now - printed) / 1e6);
                }
            }
        }
    }
    delays
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.org")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.org")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}
