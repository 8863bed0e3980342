//! Laying out a work item's sources, by tree size: from the tree cache (the first time, with
//! one file changed since the cached tree, and the same tree again), against the export every
//! work item paid before the cache, and `git archive | tar -x` of the same tree on the same disk.
//!
//! "Layout" is what the runner does before the first instruction: lease the tree (making it
//! if needed) and mount it copy-on-write at `{{.SourceDir}}`, or export it. Each figure is the
//! median of several runs.
//!
//! Run: `cargo bench -p tollgate-runner --bench sources` (`TOLLGATE_BENCH_SIZES=1000,20000`
//! for other sizes, `TOLLGATE_BENCH_DIR` for another disk).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tollgate_core::source::{Pin, ProjectName, Revision, Source};
use tollgate_runner::sandbox::Overlay;
use tollgate_runner::tree_cache::{Made, TreeCache};
use tollgate_sources::SourcesDir;

const RUNS: usize = 7;

fn main() {
    let sizes: Vec<usize> = std::env::var("TOLLGATE_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,20000,100000".to_owned())
        .split(',')
        .map(|n| n.trim().parse().expect("a number of files"))
        .collect();
    let dir = match std::env::var_os("TOLLGATE_BENCH_DIR") {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    println!("layout of a work item's sources, median of {RUNS} runs, in ms");
    println!(
        "{:>8} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "files", "git archive", "export", "cache first", "one changed", "cached"
    );
    for files in sizes {
        let root = dir.path().join(format!("n{files}"));
        let commits = make_repository(&root.join("sources/demo/big"), files, RUNS);
        let sources = SourcesDir::new(root.join("sources"));
        let project = ProjectName::new("demo/big").unwrap();
        let pins: Vec<Pin> =
            commits.iter().map(|c| Pin::new(project.clone(), Revision::new(c.clone()))).collect();
        let scratch = root.join("scratch");

        let archive = median((0..RUNS).map(|n| {
            let dest = fresh(&scratch, &format!("archive-{n}"));
            let start = Instant::now();
            git_archive(&root.join("sources/demo/big"), &commits[0], &dest);
            start.elapsed()
        }));
        let export = median((0..RUNS).map(|n| {
            let dest = scratch.join(format!("export-{n}"));
            let start = Instant::now();
            sources.export(&pins[0], &dest).unwrap();
            start.elapsed()
        }));
        // The first time: a cache that has never seen the project.
        let first = median((0..RUNS).map(|n| {
            let cache = TreeCache::open(&scratch.join(format!("cache-{n}")), u64::MAX).unwrap();
            let (took, made) = layout(&cache, &sources, &pins[0], &scratch, &format!("first-{n}"));
            assert!(matches!(made, Made::Full { .. }), "{made:?}");
            took
        }));
        // One file changed: each commit after the first changes one file of the one before.
        let cache = TreeCache::open(&scratch.join("cache"), u64::MAX).unwrap();
        layout(&cache, &sources, &pins[0], &scratch, "base");
        let changed = median(pins[1..].iter().enumerate().map(|(n, pin)| {
            let (took, made) = layout(&cache, &sources, pin, &scratch, &format!("changed-{n}"));
            assert!(matches!(made, Made::Layer { .. }), "{made:?}");
            took
        }));
        let cached = median((0..RUNS).map(|n| {
            let (took, made) = layout(&cache, &sources, &pins[0], &scratch, &format!("again-{n}"));
            assert_eq!(made, Made::Cached);
            took
        }));
        println!(
            "{files:>8} {:>12.1} {:>12.1} {:>12.1} {:>12.1} {:>12.1}",
            ms(archive),
            ms(export),
            ms(first),
            ms(changed),
            ms(cached)
        );
        let _ = fs::remove_dir_all(&root);
    }
}

/// What the runner does for a work item's sources: the lease, the folders, the mount.
fn layout(
    cache: &TreeCache,
    sources: &SourcesDir,
    pin: &Pin,
    scratch: &Path,
    name: &str,
) -> (Duration, Made) {
    let workspace = scratch.join(name);
    let start = Instant::now();
    let tree = sources.tree_id(pin).unwrap();
    let lease = cache.lease(sources, pin, &tree).unwrap();
    let (upper, work, target) =
        (workspace.join("layer/upper"), workspace.join("layer/work"), workspace.join("src"));
    for dir in [&upper, &work, &target] {
        fs::create_dir_all(dir).unwrap();
    }
    let overlay = Overlay::mount(&lease.lower, &upper, &work, &target).unwrap();
    let took = start.elapsed();
    // The mount shows the tree.
    assert!(overlay.view().join(target.strip_prefix("/").unwrap()).join("f0").exists());
    (took, lease.how.clone())
}

/// A repository of `files` files in folders of 100, and `changes` more commits that each change
/// one file; the commit ids, oldest first.
fn make_repository(work: &Path, files: usize, changes: usize) -> Vec<String> {
    fs::create_dir_all(work).unwrap();
    git(work, &["init", "-q", "-b", "main"]);
    let mut import = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(work)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stream = std::io::BufWriter::new(import.stdin.take().unwrap());
    let commit = |stream: &mut dyn Write, n: usize, body: &dyn Fn(&mut dyn Write)| {
        writeln!(stream, "commit refs/heads/main\nmark :{}", n + 1).unwrap();
        writeln!(stream, "committer T <t@example.invalid> {} +0000", 1_700_000_000 + n).unwrap();
        writeln!(stream, "data 1\nc").unwrap();
        if n > 0 {
            writeln!(stream, "from :{n}").unwrap();
        }
        body(stream);
    };
    commit(&mut stream, 0, &|stream| {
        for file in 0..files {
            let path = if file == 0 { "f0".to_owned() } else { format!("d{}/f{file}", file / 100) };
            let content = format!("file {file}\n");
            writeln!(stream, "M 644 inline {path}\ndata {}\n{content}", content.len()).unwrap();
        }
    });
    for change in 1..=changes {
        commit(&mut stream, change, &|stream| {
            let file = change * 7919 % files.max(2) + 1;
            let path = format!("d{}/f{file}", file / 100);
            let content = format!("changed {change}\n");
            writeln!(stream, "M 644 inline {path}\ndata {}\n{content}", content.len()).unwrap();
        });
    }
    drop(stream);
    assert!(import.wait().unwrap().success());
    let log = git(work, &["rev-list", "--reverse", "main"]);
    log.lines().map(str::to_owned).collect()
}

fn git_archive(repo: &Path, commit: &str, dest: &Path) {
    let mut archive = Command::new("git")
        .args(["archive", commit])
        .current_dir(repo)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = archive.stdout.take().unwrap();
    let status = Command::new("tar").arg("-x").arg("-C").arg(dest).stdin(stdout).status();
    assert!(status.unwrap().success());
    assert!(archive.wait().unwrap().success());
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn fresh(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn median(times: impl Iterator<Item = Duration>) -> Duration {
    let mut times: Vec<_> = times.collect();
    times.sort();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
