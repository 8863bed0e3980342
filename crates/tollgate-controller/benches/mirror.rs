//! Forming and pushing an integration on a branch with a long history: after 100 past
//! integrations and after 10,000 they should cost the same.
//!
//! Making 10,000 integrations through the gate would take hours, so the past is built
//! directly: `git fast-import` writes the branch's history into the remote (each past
//! integration a change based on the tip before last and its merge commit by tollgate), the
//! mirror is a copy of the remote, and the state database gets every past change and
//! integration through the same transitions the controller makes (staged, formed, decided,
//! merged). `TOLLGATE_BENCH_MIRROR` says what the mirror looks like after that past:
//!
//! - `accumulated`: what a controller from before refs were removed leaves: a
//!   `refs/tollgate/changes/N` and a `refs/tollgate/integrations/N` for each, as loose ref
//!   files, and every object loose. git's own `gc --auto` is switched off in it, so that what
//!   is measured is that state and not a collection running beside it. The service's sweep
//!   at startup and its first upkeep (in the background, during the warm-up) mend it.
//! - `maintained` (the default): what this controller leaves: only the branch, and the mirror
//!   after [`Mirror::maintain`](tollgate_git::Mirror::maintain) (packed refs, packs,
//!   commit-graph).
//!
//! Then a service starts on that data directory and integrations are measured through it,
//! one change each, one at a time, every change a real merge (based on the tip's first
//! parent): forming is the time from `integration_started` to `integration_formed` in the
//! decision log (the merge, the commit, the integration ref), pushing from `gate_decided` to
//! `pushed` (the push queue, `git push` with its lease, the mirror's ref). Each run is
//! `TOLLGATE_BENCH_INTEGRATIONS` integrations (20) after `TOLLGATE_BENCH_WARMUP` unmeasured
//! ones (10); the figures are the median over `TOLLGATE_BENCH_RUNS` runs (5) of each run's
//! mean (the log's times are in milliseconds).
//!
//! `cargo bench -p tollgate-controller --bench mirror`. Environment: `TOLLGATE_BENCH_HISTORY`
//! (10000), `TOLLGATE_BENCH_SANDBOX=0`, `TOLLGATE_BENCH_DIR`, `TOLLGATE_BENCH_KEEP`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tollgate_api::{ChangeState, ProjectSpec, StageRequest};
use tollgate_controller::{Config, Service};
use tollgate_state::{Db, MergeOutcome, NewChange, Take};

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

const PROJECT: &str = "bench/app";

/// Files the past changes touch in turn; two neighbours never touch the same one, so each
/// merge is clean.
const FILES: usize = 64;

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        println!("mirror: benchmark");
        return;
    }
    let number = |name: &str, default: usize| {
        std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
    };
    let history = number("TOLLGATE_BENCH_HISTORY", 10_000);
    let runs = number("TOLLGATE_BENCH_RUNS", 5);
    let per_run = number("TOLLGATE_BENCH_INTEGRATIONS", 20);
    let warmup = number("TOLLGATE_BENCH_WARMUP", 10);
    let sandbox = std::env::var("TOLLGATE_BENCH_SANDBOX").map_or(true, |v| v != "0");
    let mirror_state = std::env::var("TOLLGATE_BENCH_MIRROR").unwrap_or("maintained".into());
    let accumulated = match mirror_state.as_str() {
        "accumulated" => true,
        "maintained" => false,
        other => panic!("TOLLGATE_BENCH_MIRROR: `{other}`, expected accumulated or maintained"),
    };
    let tmp = match std::env::var_os("TOLLGATE_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let remote = tmp.path().join("remote.git");
    let data = tmp.path().join("data");
    let mirror = data.join("mirrors").join(PROJECT);

    let built = Instant::now();
    git(tmp.path(), &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    // The remote is not what is measured: no collection there after a push.
    git(&remote, &["config", "receive.autogc", "false"]);
    let (initial, past) = write_history(&remote, history);
    git(tmp.path(), &["clone", "-q", "--bare", "--no-local", path(&remote), path(&mirror)]);
    git(&mirror, &["config", "maintenance.auto", "false"]);
    git(&mirror, &["config", "gc.auto", "0"]);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let spec = ProjectSpec {
        name: PROJECT.into(),
        url: format!("file://{}", remote.display()),
        branches: vec!["main".into()],
        product: None,
    };
    let ids = runtime.block_on(record_past(&data, &spec, &initial, &past));
    if accumulated {
        let mut refs = String::new();
        for ((change, integration), past) in ids.iter().zip(&past) {
            writeln!(refs, "create refs/tollgate/changes/{change} {}", past.change).unwrap();
            writeln!(refs, "create refs/tollgate/integrations/{integration} {}", past.merge)
                .unwrap();
        }
        git_input(&mirror, &["update-ref", "--stdin"], &refs);
        unpack_everything(&mirror);
    } else {
        // As the controller keeps it: its own upkeep, run once more after the past.
        let url = format!("file://{}", remote.display());
        tollgate_git::Mirror::open(&mirror, &url).unwrap().maintain().unwrap();
    }
    let setup = built.elapsed();
    let before = mirror_size(&mirror);

    let measured = runtime.block_on(async {
        let mut config = Config::new(data.clone());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.local_slots = 2;
        config.poll_interval = Duration::from_secs(3600);
        config.sandbox = sandbox;
        config.projects = vec![spec.clone()];
        let service = Service::start(config).await.unwrap();
        let controller = &service.controller;
        let mut figures = Vec::new();
        let mut topic = 0;
        for run in 0..=runs {
            let count = if run == 0 { warmup } else { per_run };
            let base = rev_parse(&remote, "refs/heads/main^1");
            let mut integrations = Vec::new();
            for _ in 0..count {
                topic += 1;
                let change = write_change(&remote, &base, topic);
                let request = StageRequest {
                    project: PROJECT.into(),
                    branch: "main".into(),
                    changes: vec![change],
                };
                let id = controller.stage(&request).await.unwrap()[0].id;
                let db = controller.db();
                loop {
                    let change = db.change(id).await.unwrap().unwrap();
                    if change.state.is_final() {
                        assert_eq!(change.state, ChangeState::Merged, "{:?}", change.rejection);
                        integrations.push(change.integration.unwrap());
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            if run > 0 {
                figures.push(phases(controller.db(), &integrations).await);
            }
        }
        service.stop().await;
        figures
    });
    let after = mirror_size(&mirror);

    let forming: Vec<f64> = measured.iter().map(|(form, _)| *form).collect();
    let pushing: Vec<f64> = measured.iter().map(|(_, push)| *push).collect();
    println!(
        "history: {history} past integrations on one branch, mirror {mirror_state}, sandbox {}",
        if sandbox { "on" } else { "off" }
    );
    println!("  setup:                  {:.1} s", setup.as_secs_f64());
    println!("  mirror before:          {before}");
    println!("  mirror after:           {after}");
    println!(
        "  forming, median of {runs} runs of {per_run}: {:.2} ms (run means: {})",
        median(&forming),
        list(&forming)
    );
    println!(
        "  pushing, median of {runs} runs of {per_run}: {:.2} ms (run means: {})",
        median(&pushing),
        list(&pushing)
    );
    if std::env::var_os("TOLLGATE_BENCH_KEEP").is_some() {
        println!("  kept:                   {}", tmp.keep().display());
    }
}

/// One past integration: the change and the merge commit that took it onto the branch.
struct Past {
    change: String,
    merge: String,
}

/// Writes `count` past integrations onto `main` in the bare repository `repo` with one
/// `git fast-import`: an initial commit with the Coin files, then for each one a change based
/// on the tip before last and tollgate's merge of it onto the tip.
fn write_history(repo: &Path, count: usize) -> (String, Vec<Past>) {
    let mut stream = String::new();
    let blob = |stream: &mut String, path: &str, text: &str| {
        writeln!(stream, "M 644 inline {path}\ndata {}\n{text}", text.len()).unwrap();
    };
    let commit = |stream: &mut String, mark: usize, who: &str, time: usize, message: &str| {
        writeln!(stream, "commit refs/heads/main\nmark :{mark}").unwrap();
        writeln!(stream, "author {who} {time} +0000\ncommitter {who} {time} +0000").unwrap();
        writeln!(stream, "data {}\n{message}", message.len()).unwrap();
    };
    // Marks: the initial commit is 1, change i is 2i, its merge 2i + 1.
    commit(&mut stream, 1, "Bench <bench@localhost>", 1_600_000_000, "Initial");
    blob(&mut stream, "coin/module_config.yaml", MODULE);
    blob(&mut stream, "coin/platform_configs/app.yaml", PLATFORMS);
    for i in 1..=count {
        let time = 1_600_000_000 + i * 60;
        let file = format!("history/{:02}.txt", i % FILES);
        let text = format!("{i}\n");
        let base = 2 * i.saturating_sub(2) + 1;
        writeln!(stream, "commit refs/bench/change\nmark :{}", 2 * i).unwrap();
        let who = "Dev <dev@localhost>";
        writeln!(stream, "author {who} {time} +0000\ncommitter {who} {time} +0000").unwrap();
        let message = format!("Change {i}");
        writeln!(stream, "data {}\n{message}\nfrom :{base}", message.len()).unwrap();
        blob(&mut stream, &file, &text);
        let message = format!("Merge change {i} into main");
        commit(&mut stream, 2 * i + 1, "tollgate <tollgate@localhost>", time + 1, &message);
        writeln!(stream, "from :{}\nmerge :{}", 2 * i - 1, 2 * i).unwrap();
        blob(&mut stream, &file, &text);
    }
    let marks = repo.join("bench-marks");
    let export = format!("--export-marks={}", marks.display());
    git_input(repo, &["fast-import", "--quiet", &export], &stream);
    git(repo, &["update-ref", "-d", "refs/bench/change"]);
    let ids: std::collections::HashMap<usize, String> = std::fs::read_to_string(&marks)
        .unwrap()
        .lines()
        .map(|line| {
            let (mark, id) = line.split_once(' ').unwrap();
            (mark[1..].parse().unwrap(), id.to_owned())
        })
        .collect();
    std::fs::remove_file(&marks).unwrap();
    let past = (1..=count)
        .map(|i| Past { change: ids[&(2 * i)].clone(), merge: ids[&(2 * i + 1)].clone() })
        .collect();
    (ids[&1].clone(), past)
}

/// Records the past in a new state database through the controller's own transitions; the
/// (change, integration) ids.
async fn record_past(
    data: &Path,
    spec: &ProjectSpec,
    initial: &str,
    past: &[Past],
) -> Vec<(i64, i64)> {
    std::fs::create_dir_all(data).unwrap();
    let db = Db::open(&data.join("state.sqlite")).await.unwrap();
    db.upsert_project(spec).await.unwrap();
    let mut ids = Vec::with_capacity(past.len());
    let mut tip = initial;
    for (n, one) in past.iter().enumerate() {
        let subject = format!("Change {}", n + 1);
        let change = NewChange {
            project: PROJECT,
            branch: "main",
            commit: &one.change,
            subject: &subject,
            author: "Dev <dev@localhost>",
            origin: "api",
        };
        let (change, _) = db.stage(&change).await.unwrap();
        let mut formed =
            db.form(PROJECT, "main", tip, Take::batch(u32::MAX)).await.unwrap().unwrap();
        db.formed(&formed, &[(change.id, MergeOutcome::Merged)], Some(&one.merge)).await.unwrap();
        formed.commit = Some(one.merge.clone());
        db.decide_merge(&formed).await.unwrap();
        db.merged(&formed, "pushed").await.unwrap();
        ids.push((change.id, formed.id));
        tip = &one.merge;
    }
    db.close().await;
    ids
}

/// Makes every object of `repo` loose, as a mirror whose objects were never packed has them.
fn unpack_everything(repo: &Path) {
    let packs = repo.join("objects/pack");
    let moved = repo.join("bench-packs");
    std::fs::rename(&packs, &moved).unwrap();
    std::fs::create_dir(&packs).unwrap();
    for entry in std::fs::read_dir(&moved).unwrap() {
        let pack = entry.unwrap().path();
        if pack.extension().is_some_and(|ext| ext == "pack") {
            let input = std::fs::File::open(&pack).unwrap();
            let status =
                git_command(repo).args(["unpack-objects", "-q"]).stdin(input).status().unwrap();
            assert!(status.success());
        }
    }
    std::fs::remove_dir_all(&moved).unwrap();
}

/// A change on `base` touching a file of its own, written into the remote as a topic branch;
/// its id.
fn write_change(remote: &Path, base: &str, topic: usize) -> String {
    let text = format!("{topic}\n");
    let message = format!("Measured change {topic}");
    let stream = format!(
        "commit refs/heads/topic/{topic}\nmark :1\nauthor Dev <dev@localhost> 1700000000 +0000\n\
         committer Dev <dev@localhost> 1700000000 +0000\ndata {}\n{message}\nfrom {base}\n\
         M 644 inline measured/{topic}.txt\ndata {}\n{text}\n",
        message.len(),
        text.len()
    );
    git_input(remote, &["fast-import", "--quiet"], &stream);
    rev_parse(remote, &format!("refs/heads/topic/{topic}"))
}

/// The mean forming and pushing time of `integrations`, in ms, from the decision log.
async fn phases(db: &Db, integrations: &[i64]) -> (f64, f64) {
    let (mut forming, mut pushing) = (0i64, 0i64);
    for id in integrations {
        let events =
            db.events(Some(*id), tollgate_state::Cursor::After(0), 1000).await.unwrap().items;
        let at = |kind: &str| events.iter().find(|e| e.kind == kind).map(|e| e.at).unwrap();
        forming += at("integration_formed") - at("integration_started");
        pushing += at("pushed") - at("gate_decided");
    }
    let n = integrations.len() as f64;
    (forming as f64 / n, pushing as f64 / n)
}

/// Refs and objects as an operator counts them: ref files and packed refs, loose objects and
/// packs.
fn mirror_size(repo: &Path) -> String {
    let refs = git_out(repo, &["for-each-ref", "--format=%(refname)"]).lines().count();
    let packed = std::fs::read_to_string(repo.join("packed-refs")).map_or(0, |text| {
        text.lines().filter(|l| !l.starts_with('#') && !l.starts_with('^')).count()
    });
    let objects = git_out(repo, &["count-objects", "-v"]);
    let field = |name: &str| {
        objects.lines().find_map(|l| l.strip_prefix(name)).unwrap_or("?").trim().to_owned()
    };
    format!(
        "{refs} refs ({packed} packed), {} loose objects, {} packs",
        field("count:"),
        field("packs:")
    )
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn list(values: &[f64]) -> String {
    values.iter().map(|v| format!("{v:.2}")).collect::<Vec<_>>().join(", ")
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command.current_dir(dir).env("GIT_CONFIG_NOSYSTEM", "1");
    command
}

fn git(dir: &Path, args: &[&str]) {
    let out = git_command(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn git_input(dir: &Path, args: &[&str], input: &str) {
    let mut child =
        git_command(dir).args(args).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "git {args:?}");
}

fn rev_parse(dir: &Path, name: &str) -> String {
    git_out(dir, &["rev-parse", name]).trim().to_owned()
}
