//! The API's reads on a year of history: a state of 100,000 integrations, 1,000,000 work items
//! and 5,000,000 events (most of them on one branch of four), with a queue of staged changes
//! and an integration running, against the same live part without any history. For each
//! route: p50 and p99 of GETs over loopback, one after another on a kept-alive connection; and
//! the service's start-up, from `Service::start` until the status route answers (the median
//! of five restarts, each with the mirror fetched before, as after any first start).
//!
//! The history is written through the state crate: in bulk (`Db::fill_history`, a transition
//! per row would take hours), then the live part by the transitions themselves (staged,
//! formed, planned, started). The running integration's work items run `sleep` on both slots
//! (no sandbox), so that it stays running while the routes are timed.
//!
//! `cargo bench -p tollgate-controller --bench history`. Environment:
//! `TOLLGATE_BENCH_INTEGRATIONS` (100000), `TOLLGATE_BENCH_WORK_ITEMS` (1000000),
//! `TOLLGATE_BENCH_EVENTS` (5000000), `TOLLGATE_BENCH_REQUESTS` (1000 per route), and
//! `TOLLGATE_BENCH_DIR`, where the filled state is kept for the next run (by default
//! `$TMPDIR/tollgate-bench-history`); a folder per size, removed to fill again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tollgate_api::{PinView, PlanPins, ProjectSpec};
use tollgate_controller::{Config, Service};
use tollgate_state::{DataDirLock, Db, History, MergeOutcome, NewChange, NewWorkItem, Take};

const PROJECT: &str = "bench/app";
/// The first gets nine integrations in ten.
const BRANCHES: [&str; 4] = ["main", "6.8", "6.9", "dev"];
/// Changes waiting behind the running integration.
const QUEUED: usize = 20;
/// Start-ups timed per state, after the first; the median is shown.
const STARTS: usize = 5;

/// The history's sizes.
struct Sizes {
    integrations: i64,
    work_items: i64,
    events: i64,
}

impl Sizes {
    fn items_per_integration(&self) -> i64 {
        (self.work_items / self.integrations.max(1)).max(1)
    }
}

/// What the timed requests name.
struct Targets {
    /// An integration and an event 1% into the history; `None` without a history.
    old_integration: Option<i64>,
    old_event: Option<i64>,
    running: i64,
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        println!("history: benchmark");
        return;
    }
    let sizes = Sizes {
        integrations: env("TOLLGATE_BENCH_INTEGRATIONS", 100_000),
        work_items: env("TOLLGATE_BENCH_WORK_ITEMS", 1_000_000),
        events: env("TOLLGATE_BENCH_EVENTS", 5_000_000),
    };
    let requests = env("TOLLGATE_BENCH_REQUESTS", 1000) as usize;
    let root = std::env::var_os("TOLLGATE_BENCH_DIR")
        .map_or_else(|| std::env::temp_dir().join("tollgate-bench-history"), PathBuf::from);
    let dir = root.join(format!("{}-{}-{}", sizes.integrations, sizes.work_items, sizes.events));
    std::fs::create_dir_all(&dir).unwrap();
    let items: Vec<String> =
        (0..sizes.items_per_integration()).map(|n| format!("{PROJECT}:cfg{n}:Build")).collect();
    let remote = dir.join("remote.git");
    let commits = repository(&dir, items.len());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let empty_dir = dir.join("empty");
        let _ = std::fs::remove_dir_all(&empty_dir);
        let empty = prepare(&empty_dir, None, &items, &commits).await;
        let full_dir = dir.join("full");
        let filled = full_dir.join("filled");
        let fill_time = match filled.exists() {
            true => None,
            false => {
                let _ = std::fs::remove_dir_all(&full_dir);
                let start = Instant::now();
                let full = prepare(&full_dir, Some(&sizes), &items, &commits).await;
                std::fs::write(&filled, format!("{}\n", full.running)).unwrap();
                Some(start.elapsed())
            }
        };
        let full = targets(&full_dir, &sizes).await;
        let size = std::fs::metadata(full_dir.join("state.sqlite")).map_or(0, |m| m.len());

        let empty_run = measure(&empty_dir, &remote, &empty, requests).await;
        let full_run = measure(&full_dir, &remote, &full, requests).await;

        println!(
            "history: {} integrations, {} work items, {} events on {} branches \
             (state.sqlite {:.2} GB, in {})",
            sizes.integrations,
            sizes.integrations * sizes.items_per_integration(),
            sizes.events,
            BRANCHES.len(),
            size as f64 / 1e9,
            dir.display()
        );
        match fill_time {
            Some(time) => println!("  filled in {:.1} s", time.as_secs_f64()),
            None => println!("  filled by an earlier run"),
        }
        println!("  {requests} GETs per route, one at a time, over loopback; ms");
        println!("  {:<56} {:>9} {:>9}   {:>9} {:>9}", "", "empty p50", "p99", "full p50", "p99");
        for ((route, empty), (_, full)) in empty_run.routes.iter().zip(&full_run.routes) {
            println!("  {route:<56} {}   {}", cells(empty.as_deref()), cells(full.as_deref()));
        }
        println!(
            "  {:<56} {:>19.1}   {:>19.1}",
            "start-up: Service::start until it answers (median of 5)",
            ms(empty_run.startup),
            ms(full_run.startup)
        );
    });
}

/// A data directory with its state: the history when `sizes` says so, then the live part.
async fn prepare(
    data: &Path,
    sizes: Option<&Sizes>,
    items: &[String],
    commits: &Commits,
) -> Targets {
    std::fs::create_dir_all(data).unwrap();
    let db = Db::open(&data.join("state.sqlite")).await.unwrap();
    db.upsert_project(&project(&data.join("../remote.git"))).await.unwrap();
    if let Some(sizes) = sizes {
        let names: Vec<&str> = items.iter().map(String::as_str).collect();
        let history = History {
            project: PROJECT,
            branches: &BRANCHES,
            integrations: sizes.integrations,
            items: &names,
            events_per_integration: sizes.events / sizes.integrations.max(1),
        };
        db.fill_history(&history).await.unwrap();
    }
    let running = live(&db, items, commits).await;
    db.close().await;
    Targets { old_integration: None, old_event: None, running }
}

/// The running integration and the queue behind it, by the transitions the controller makes.
async fn live(db: &Db, items: &[String], commits: &Commits) -> i64 {
    let (staged, _) = db.stage(&change(&commits.change, "Run for an hour")).await.unwrap();
    let formed =
        db.form(PROJECT, BRANCHES[0], &commits.tip, Take::batch(u32::MAX)).await.unwrap().unwrap();
    let fast_forward = [(staged.id, MergeOutcome::FastForward)];
    db.formed(&formed, &fast_forward, Some(&commits.change)).await.unwrap();
    let mut formed = db.integration(formed.id).await.unwrap().unwrap();
    let planned: Vec<NewWorkItem> = items
        .iter()
        .map(|item| NewWorkItem {
            item: item.clone(),
            build_key: format!("{:064x}", 1),
            significant: true,
        })
        .collect();
    let pin = |project: &str| PinView { project: project.into(), revision: commits.change.clone() };
    let pins = PlanPins {
        project: pin(PROJECT),
        platforms: Some(pin(PROJECT)),
        salt: "bench".into(),
        fetch: vec![pin(PROJECT)],
    };
    db.planned(&formed, &planned, &pins).await.unwrap();
    formed = db.integration(formed.id).await.unwrap().unwrap();
    for item in items.iter().take(2) {
        db.item_started(&formed, item, "/nonexistent/log", "local").await.unwrap();
    }
    for n in 0..QUEUED {
        // Not a commit of the history, which staging would take as merged already.
        db.stage(&change(&format!("feed{n:036x}"), "Queued")).await.unwrap();
    }
    formed.id
}

/// A change of the first branch, staged through the API.
fn change<'a>(commit: &'a str, subject: &'a str) -> NewChange<'a> {
    NewChange {
        project: PROJECT,
        branch: BRANCHES[0],
        commit,
        subject,
        author: "Bench <bench@localhost>",
        origin: "api",
    }
}

/// The old integration and event of a filled state, and its running integration.
async fn targets(data: &Path, sizes: &Sizes) -> Targets {
    let running: i64 =
        std::fs::read_to_string(data.join("filled")).unwrap().trim().parse().unwrap();
    Targets {
        old_integration: Some(1 + sizes.integrations / 100),
        old_event: Some(1 + sizes.events / 100),
        running,
    }
}

/// What one state measured: each route's latencies (none when the state has no such target),
/// and the start-up.
struct Run {
    routes: Vec<(String, Option<Vec<Duration>>)>,
    startup: Duration,
}

async fn measure(data: &Path, remote: &Path, targets: &Targets, requests: usize) -> Run {
    let http = reqwest::Client::new();
    let (service, _) = start(data, remote, &http).await;
    let base = format!("http://{}", service.addr);
    let status = format!("{base}/api/status");

    let branch = format!("{base}/api/integrations?project={PROJECT}&branch={}", BRANCHES[0]);
    let old = targets.old_integration;
    let routes: Vec<(String, Option<String>)> = vec![
        ("GET /api/status".into(), Some(status.clone())),
        ("GET /api/integrations?project=&branch= (branch)".into(), Some(branch.clone())),
        (
            "  … &before=OLD (a page 1% into history)".into(),
            old.map(|id| format!("{branch}&before={id}")),
        ),
        ("GET /api/integrations/OLD".into(), old.map(|id| format!("{base}/api/integrations/{id}"))),
        (
            "GET /api/integrations/RUNNING".into(),
            Some(format!("{base}/api/integrations/{}", targets.running)),
        ),
        ("GET /api/events (newest)".into(), Some(format!("{base}/api/events"))),
        (
            "GET /api/events?before=OLD".into(),
            targets.old_event.map(|seq| format!("{base}/api/events?before={seq}")),
        ),
        (
            "GET /api/events?integration=OLD".into(),
            old.map(|id| format!("{base}/api/events?integration={id}")),
        ),
        (
            "GET /api/events?integration=RUNNING".into(),
            Some(format!("{base}/api/events?integration={}", targets.running)),
        ),
        // The web pages, each rendered from the same reads as its twin.
        ("GET / (overview page)".into(), Some(format!("{base}/"))),
        (
            "GET /branch?project=&branch= (page)".into(),
            Some(format!("{base}/branch?project={PROJECT}&branch={}", BRANCHES[0])),
        ),
        ("GET /integrations/OLD (page)".into(), old.map(|id| format!("{base}/integrations/{id}"))),
        (
            "GET /work-item?integration=OLD (page)".into(),
            old.map(|id| format!("{base}/work-item?integration={id}&item={PROJECT}:cfg0:Build")),
        ),
        ("GET /events (page)".into(), Some(format!("{base}/events"))),
    ];
    let mut timed = Vec::new();
    for (route, url) in routes {
        let latencies = match url {
            Some(url) => Some(time(&http, &url, requests).await),
            None => None,
        };
        timed.push((route, latencies));
    }
    service.stop().await;
    // Restarts, so that each finds the mirror fetched before, as a service does after its
    // first start.
    let mut startups = Vec::new();
    for _ in 0..STARTS {
        let (service, took) = start(data, remote, &http).await;
        startups.push(took);
        service.stop().await;
    }
    startups.sort();
    Run { routes: timed, startup: startups[STARTS / 2] }
}

/// Starts the service on `data` once the last one let go of it; how long until it answered.
async fn start(data: &Path, remote: &Path, http: &reqwest::Client) -> (Service, Duration) {
    while DataDirLock::acquire(data).is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut config = Config::new(data.to_owned());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.local_slots = 2;
    config.poll_interval = Duration::from_secs(3600);
    config.sandbox = false;
    config.projects = vec![project(remote)];
    let start = Instant::now();
    let service = Service::start(config).await.unwrap();
    let status = format!("http://{}/api/status", service.addr);
    while http.get(&status).send().await.map_or(true, |a| !a.status().is_success()) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (service, start.elapsed())
}

/// `requests` GETs of `url`, after a few to warm up, each checked for success.
async fn time(http: &reqwest::Client, url: &str, requests: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(requests);
    for n in 0..requests + 20 {
        let start = Instant::now();
        let answer = http.get(url).send().await.unwrap();
        assert!(answer.status().is_success(), "{url}: {}", answer.status());
        let body = answer.bytes().await.unwrap();
        let took = start.elapsed();
        assert!(!body.is_empty());
        if n >= 20 {
            latencies.push(took);
        }
    }
    latencies.sort();
    latencies
}

/// `p50 p99` of sorted latencies, or dashes.
fn cells(latencies: Option<&[Duration]>) -> String {
    match latencies {
        None => format!("{:>9} {:>9}", "—", "—"),
        Some(sorted) => {
            let at = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
            format!("{:>9.2} {:>9.2}", ms(at(0.50)), ms(at(0.99)))
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|n| n.replace('_', "").parse().ok()).unwrap_or(default)
}

fn project(remote: &Path) -> ProjectSpec {
    let remote = std::fs::canonicalize(remote).unwrap_or_else(|_| remote.to_owned());
    ProjectSpec {
        name: PROJECT.into(),
        url: format!("file://{}", remote.display()),
        branches: BRANCHES.iter().map(|b| (*b).to_owned()).collect(),
        product: None,
    }
}

/// The remote's commits: the branches' tip and the running integration's change on it.
struct Commits {
    tip: String,
    change: String,
}

/// A bare remote whose branches hold a module of `configurations` work items that each sleep
/// an hour, and a change on top of it pushed as a topic branch. Made once per folder.
fn repository(dir: &Path, configurations: usize) -> Commits {
    let work = dir.join("work");
    let remote = dir.join("remote.git");
    if !remote.exists() {
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(work.join("coin/platform_configs")).unwrap();
        std::fs::write(work.join("coin/module_config.yaml"), MODULE).unwrap();
        let mut platforms = String::from("Version: 2\nConfigurations:\n");
        for n in 0..configurations {
            platforms.push_str(&format!(
                "-\n    Id: 'cfg{n}'\n    Template: 'qtci-linux-Debian-12-x86_64-1'\n    Compiler: 'GCC'\n"
            ));
        }
        std::fs::write(work.join("coin/platform_configs/app.yaml"), platforms).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["config", "maintenance.auto", "false"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "Initial"]);
        for branch in &BRANCHES[1..] {
            git(&work, &["branch", "-q", branch, "main"]);
        }
        git(&work, &["checkout", "-q", "-b", "topic"]);
        std::fs::write(work.join("change.txt"), "change\n").unwrap();
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "Run for an hour"]);
        git(dir, &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
        git(&work, &["remote", "add", "origin", remote.to_str().unwrap()]);
        git(&work, &["push", "-q", "--all", "origin"]);
    }
    Commits { tip: rev_parse(&remote, "main"), change: rev_parse(&remote, "topic") }
}

const MODULE: &str = r#"version: 2
instructions:
  Build:
    - type: ExecuteCommand
      command: ["sleep", "3600"]
      maxTimeInSeconds: 7200
      maxTimeBetweenOutput: 7200
      userMessageOnFailure: "sleep failed"
"#;

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
