//! The tree cache: each tree written once, seen copy-on-write by every work item, made from a
//! cached neighbour by applying what changed, and never evicted while in use.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tollgate_core::source::{Pin, ProjectName, Revision, Source};
use tollgate_runner::sandbox::Overlay;
use tollgate_runner::tree_cache::{Made, TreeCache};
use tollgate_sources::SourcesDir;

use crate::harness::*;

#[tokio::test]
async fn a_work_item_that_changes_its_sources_leaves_the_next_one_a_pristine_tree() {
    let h = Harness::new().await;
    h.file(APP, "data.txt", "as committed\n");
    h.file(APP, "gone.txt", "to be deleted\n");
    h.file(APP, "sub/deep.txt", "deep\n");
    // Shows the tree, changes it every way there is, and fails, so the next run is not reused.
    h.app(
        &[],
        r#"
    - type: ChangeDirectory
      directory: "{{.SourceDir}}"
    - type: ExecuteCommand
      command: ["sh", "-c", "find . -path ./coin -prune -o -print | sort | tr '\n' ' '; cat data.txt gone.txt sub/deep.txt | tr '\n' ' '"]
    - type: ExecuteCommand
      command: ["sh", "-c", "echo changed > data.txt && rm gone.txt && rm -r sub && mkdir made && touch made/new && chmod +x data.txt"]
    - type: ExecuteCommand
      command: ["sh", "-c", "ls; exit 1"]
"#,
    );
    let plan = h.plan(APP);
    let first = h.run(&plan, "demo/app:linux:Build").await;
    assert!(first.log.contains("from the tree cache (made now"), "{}", first.log);
    let seen = first.out()[0].to_owned();
    assert!(seen.contains("./gone.txt") && seen.contains("as committed"), "{seen}");
    assert_eq!(
        first.out()[1..],
        ["coin", "data.txt", "made"],
        "the changes were made: {}",
        first.log
    );

    let second = h.run(&plan, "demo/app:linux:Build").await;
    assert!(second.log.contains("from the tree cache (cached)"), "{}", second.log);
    assert_eq!(second.out()[0], seen, "the second work item sees the tree as committed");
    // Neither the sources folder nor the cached copy took a write.
    assert_eq!(read(&h.sources().join(APP).join("data.txt")), "as committed\n");
    let cached = fs::read_dir(&h.options.tree_cache).unwrap().next().unwrap().unwrap().path();
    assert_eq!(read(&cached.join("tree/data.txt")), "as committed\n");
    assert!(cached.join("tree/gone.txt").exists());
}

#[tokio::test]
async fn a_project_of_a_handful_of_files_is_copied_once_its_first_tree_was_made() {
    let mut h = Harness::new().await;
    h.options.copy_trees_up_to = 64;
    h.file(APP, "data.txt", "as committed\n");
    h.app(
        &[],
        r#"
    - type: ExecuteCommand
      command: ["sh", "-c", "cat {{.SourceDir}}/data.txt; echo changed > {{.SourceDir}}/data.txt; exit 1"]
"#,
    );
    let plan = h.plan(APP);
    let first = h.run(&plan, "demo/app:linux:Build").await;
    assert!(first.log.contains("from the tree cache (made now"), "{}", first.log);
    let second = h.run(&plan, "demo/app:linux:Build").await;
    assert!(!second.log.contains("from the tree cache"), "copied: {}", second.log);
    assert!(second.log.contains("sources of demo/app@worktree in"), "{}", second.log);
    assert_eq!(second.out()[0], "as committed", "a fresh copy: {}", second.log);
}

/// A git project in a sources folder, committed twice.
struct Repo {
    dir: tempfile::TempDir,
    sources: SourcesDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("sources/demo/lib")).unwrap();
        let sources = SourcesDir::new(dir.path().join("sources"));
        let repo = Repo { dir, sources };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("sources/demo/lib")
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(self.work())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn write(&self, path: &str, content: &str) {
        let path = self.work().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    fn commit(&self) -> Pin {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "c"]);
        let commit = self.git(&["rev-parse", "HEAD"]);
        Pin::new(ProjectName::new("demo/lib").unwrap(), Revision::new(commit))
    }

    fn lease(&self, cache: &TreeCache, pin: &Pin) -> tollgate_runner::tree_cache::Lease {
        let tree = self.sources.tree_id(pin).unwrap();
        cache.lease(&self.sources, pin, &tree).unwrap()
    }
}

/// Every path under `root`: its kind and mode, and its content or link target.
fn listing(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let metadata = fs::symlink_metadata(&path).unwrap();
            let mode = metadata.permissions().mode() & 0o7777;
            let what = if metadata.is_symlink() {
                format!("link -> {}", fs::read_link(&path).unwrap().display())
            } else if metadata.is_dir() {
                pending.push(path.clone());
                format!("folder {mode:o}")
            } else {
                format!("file {mode:o} {:?}", fs::read(&path).unwrap())
            };
            found.insert(path.strip_prefix(root).unwrap().to_owned(), what);
        }
    }
    found
}

#[tokio::test]
async fn a_tree_made_from_a_cached_neighbour_equals_a_fresh_export() {
    let repo = Repo::new();
    for (path, content) in [
        ("README", "base\n"),
        ("run.sh", "#!/bin/sh\n"),
        ("dir/kept", "kept\n"),
        ("dir/dropped", "dropped\n"),
        ("gone/deep/file", "gone\n"),
        ("becomes-folder", "a file first\n"),
        ("becomes-file/inner", "a folder first\n"),
        ("same/untouched", "same\n"),
    ] {
        repo.write(path, content);
    }
    fs::set_permissions(repo.work().join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("README", repo.work().join("link")).unwrap();
    let base = repo.commit();

    repo.write("README", "changed\n");
    fs::set_permissions(repo.work().join("run.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::remove_file(repo.work().join("dir/dropped")).unwrap();
    fs::remove_dir_all(repo.work().join("gone")).unwrap();
    fs::remove_file(repo.work().join("becomes-folder")).unwrap();
    repo.write("becomes-folder/now", "now a folder\n");
    fs::remove_dir_all(repo.work().join("becomes-file")).unwrap();
    repo.write("becomes-file", "now a file\n");
    repo.write("new/deep/file", "new\n");
    fs::remove_file(repo.work().join("link")).unwrap();
    std::os::unix::fs::symlink("dir/kept", repo.work().join("link")).unwrap();
    std::os::unix::fs::symlink("new", repo.work().join("to-folder")).unwrap();
    let changed = repo.commit();

    let cache = TreeCache::open(&repo.dir.path().join("trees"), u64::MAX).unwrap();
    let first = repo.lease(&cache, &base);
    assert!(matches!(first.how, Made::Full { .. }), "{:?}", first.how);
    let second = repo.lease(&cache, &changed);
    let Made::Layer { paths, .. } = &second.how else { panic!("{:?}", second.how) };
    assert!(*paths < 15, "only what changed is written: {paths} paths");
    assert_eq!(second.lower.len(), 2);

    let mount = repo.dir.path().join("mount");
    let (upper, work) = (repo.dir.path().join("upper"), repo.dir.path().join("work"));
    for dir in [&mount, &upper, &work] {
        fs::create_dir_all(dir).unwrap();
    }
    let overlay = Overlay::mount(&second.lower, &upper, &work, &mount).unwrap();
    let seen = overlay.view().join(mount.strip_prefix("/").unwrap());
    let fresh = repo.dir.path().join("fresh");
    repo.sources.export(&changed, &fresh).unwrap();
    let (seen, fresh) = (listing(&seen), listing(&fresh));
    assert!(fresh.contains_key(Path::new("becomes-folder/now")), "{fresh:#?}");
    assert_eq!(seen, fresh);
}

#[tokio::test]
async fn eviction_never_touches_a_tree_in_use_and_the_cache_survives_a_restart() {
    let repo = Repo::new();
    let mut pins = Vec::new();
    for n in 0..4 {
        // Far apart, so that each is exported in full rather than layered.
        for file in 0..300 {
            repo.write(&format!("f{file}"), &format!("{n}\n"));
        }
        pins.push(repo.commit());
    }
    // Room for about one tree: every new one pushes the idle ones out.
    let root = repo.dir.path().join("trees");
    let cache = TreeCache::open(&root, 1).unwrap();
    let held = repo.lease(&cache, &pins[0]);
    drop(repo.lease(&cache, &pins[1]));
    let third = repo.lease(&cache, &pins[2]);
    assert!(held.lower[0].join("f0").is_file(), "a tree in use stays");
    assert_eq!(read(&held.lower[0].join("f299")), "0\n");
    let cached: Vec<_> = fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(cached.len(), 2, "the idle tree went: {cached:?}");
    drop(held);
    drop(third);
    let fourth = repo.lease(&cache, &pins[3]);
    let cached: Vec<_> = fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(cached.len(), 1, "once idle, the others went: {cached:?}");
    assert!(fourth.lower[0].starts_with(&cached[0]));
    let kept = fourth.lower[0].clone();
    drop(fourth);
    drop(cache);

    // A restart reads the cache back, and sweeps what a killed run left half made.
    fs::create_dir_all(root.join("tmp-1-1/tree")).unwrap();
    let cache = TreeCache::open(&root, u64::MAX).unwrap();
    assert!(!root.join("tmp-1-1").exists());
    let again = repo.lease(&cache, &pins[3]);
    assert_eq!(again.how, Made::Cached);
    assert_eq!(again.lower[0], kept);
}
