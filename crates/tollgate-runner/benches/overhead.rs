//! The runner's overhead per work item: a work item whose only instruction is
//! `ExecuteCommand true`, against running `true` directly, with the sandbox on and off.
//!
//! Each run does everything a real one does (the store lookup, the log, a fresh workspace with
//! the sources exported into it, the session, the process, the log and record stored, the
//! workspace removed); only reuse is turned off, or every run after the first would be reused.
//! Run: `cargo bench -p tollgate-runner --bench overhead`; `TOLLGATE_BENCH_DIR=/dev/shm` puts
//! the sources, the store and the workspaces on another file system.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio_util::sync::CancellationToken;
use tollgate_core::plan::{BuildKey, Plan, PlanRequest, plan};
use tollgate_core::run::Outcome;
use tollgate_core::source::{Pin, ProjectName, Revision};
use tollgate_runner::{Reuse, Runner, RunnerOptions, Sandbox};
use tollgate_sources::SourcesDir;
use tollgate_store::{Digest, LocalStore, Record, Store, StoreError};

/// The local store, which never has a record to reuse but still looks.
struct NoReuse(LocalStore);

impl Store for NoReuse {
    fn put_file(&self, path: &Path) -> Result<Digest, StoreError> {
        self.0.put_file(path)
    }
    fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        self.0.put_bytes(bytes)
    }
    fn fetch(&self, digest: &Digest, dest: &Path) -> Result<bool, StoreError> {
        self.0.fetch(digest, dest)
    }
    fn contains(&self, digest: &Digest) -> Result<bool, StoreError> {
        self.0.contains(digest)
    }
    fn record(&self, key: &BuildKey) -> Result<Option<Record>, StoreError> {
        self.0.record(key).map(|_| None)
    }
    fn put_record(&self, key: &BuildKey, record: &Record) -> Result<(), StoreError> {
        self.0.put_record(key, record)
    }
}

fn setup(dir: &Path) -> Plan {
    let app = dir.join("sources/demo/app/coin");
    std::fs::create_dir_all(app.join("platform_configs")).unwrap();
    std::fs::write(
        app.join("module_config.yaml"),
        "version: 2\ninstructions:\n  Build:\n    - type: ExecuteCommand\n      command: [\"true\"]\n",
    )
    .unwrap();
    std::fs::write(
        app.join("platform_configs/app.yaml"),
        "- Id: linux\n  Template: qtci-linux-Debian-12-x86_64-1\n  Compiler: GCC\n",
    )
    .unwrap();
    let sources = SourcesDir::new(dir.join("sources"));
    let project = Pin::new(ProjectName::new("demo/app").unwrap(), Revision::new("worktree"));
    plan(&sources, &PlanRequest { project, platforms: None, salt: "bench".into() }).unwrap()
}

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    // The folder for sources, store and workspaces: the system's temporary folder, or
    // TOLLGATE_BENCH_DIR to see what the file system costs (on tmpfs, say).
    let dir = match std::env::var_os("TOLLGATE_BENCH_DIR") {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let plan = setup(dir.path());
    let item = plan.work_items().next().unwrap();
    let bubblewrap = runtime.block_on(Sandbox::bubblewrap()).expect("bubblewrap");
    let mut group = c.benchmark_group("work item with `true`");

    group.bench_function("true, bare", |b| {
        b.iter(|| assert!(Command::new("true").status().unwrap().success()))
    });
    if let Sandbox::Bubblewrap(bwrap) = &bubblewrap {
        // The sandbox alone, as the runner starts it, for comparison.
        group.bench_function("true, in bwrap alone", |b| {
            b.iter(|| {
                let status = Command::new(bwrap)
                    .args(["--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc"])
                    .args(["--unshare-uts", "--unshare-net", "--cap-drop", "ALL"])
                    .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--"])
                    .args(["/bin/sh", "-c", "exec \"$@\"", "sh", "true"])
                    .status()
                    .unwrap();
                assert!(status.success());
            })
        });
    }
    for (name, sandbox) in
        [("runner, sandbox on", bubblewrap.clone()), ("runner, sandbox off", Sandbox::Off)]
    {
        let store = NoReuse(LocalStore::open(&dir.path().join("store")).unwrap());
        let options = RunnerOptions::new(&dir.path().join("data"));
        let sources = Arc::new(SourcesDir::new(dir.path().join("sources")));
        let runner = Runner::new(Arc::new(store), sources, sandbox, options);
        let cancel = CancellationToken::new();
        group.bench_function(name, |b| {
            b.iter(|| {
                let finished =
                    runtime.block_on(runner.run(&plan, item, None, &cancel, None, Reuse::Stored));
                assert_eq!(finished.outcome, Outcome::Passed);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
