//! Reads from real repositories made by real git.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;
use tollgate_git::{CommitId, GitError, Repository};

/// A repository in a temporary folder, made with git isolated from the user's config and from
/// any `GIT_*` variable the test runs under.
struct TestRepo {
    dir: TempDir,
}

impl TestRepo {
    fn new() -> TestRepo {
        let repo = TestRepo { dir: tempfile::tempdir().unwrap() };
        std::fs::create_dir_all(repo.dir.path().join("home")).unwrap();
        std::fs::create_dir_all(repo.path()).unwrap();
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn git(&self, args: &[&str]) -> String {
        git_in(&self.path(), &self.dir.path().join("home"), args)
    }

    fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let path = self.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn open(&self) -> Repository {
        Repository::open(self.path()).unwrap().expect("a repository")
    }
}

fn git_in(dir: &Path, home: &Path, args: &[&str]) -> String {
    let mut command = Command::new("git");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            command.env_remove(key);
        }
    }
    let output = command
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "git {args:?} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn commit_id(id: &str) -> CommitId {
    CommitId::parse(id).expect("a full commit id")
}

#[test]
fn open_recognises_work_trees_bare_repositories_and_linked_work_trees() {
    let repo = TestRepo::new();
    repo.write("a", "a");
    repo.commit("first");
    assert!(Repository::open(repo.path()).unwrap().is_some(), "work tree");

    let bare = repo.dir.path().join("bare.git");
    repo.git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
    assert!(Repository::open(&bare).unwrap().is_some(), "bare");

    let linked = repo.dir.path().join("linked");
    repo.git(&["worktree", "add", "-q", linked.to_str().unwrap()]);
    assert!(linked.join(".git").is_file());
    assert!(Repository::open(&linked).unwrap().is_some(), "a `.git` file");

    let plain = repo.dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    assert!(Repository::open(&plain).unwrap().is_none(), "plain folder");
    assert!(Repository::open(repo.dir.path().join("missing")).unwrap().is_none(), "missing");
    assert!(Repository::open(repo.path().join("a")).unwrap().is_none(), "a file");
}

#[test]
fn rev_parse_commit_resolves_refs_and_answers_none_for_unknown_names() {
    let repo = TestRepo::new();
    repo.write("a", "a");
    let first = repo.commit("first");
    repo.git(&["tag", "-a", "-m", "annotated", "v1"]);
    repo.write("a", "b");
    let second = repo.commit("second");
    let git = repo.open();

    let resolve = |reference: &str| git.rev_parse_commit(reference).unwrap();
    assert_eq!(resolve("HEAD"), Some(commit_id(&second)));
    assert_eq!(resolve("main"), Some(commit_id(&second)));
    assert_eq!(resolve("v1"), Some(commit_id(&first)), "an annotated tag peels to its commit");
    assert_eq!(resolve(&first), Some(commit_id(&first)));
    assert_eq!(resolve(&first[..10]), Some(commit_id(&first)), "abbreviated");

    for unknown in ["nope", "", "-h", "--all", "HEAD@{99}", "HEAD^{tree}", "HEAD:a", "a..b"] {
        assert_eq!(resolve(unknown), None, "{unknown:?}");
    }
    assert_eq!(resolve(&"0".repeat(40)), None, "a well-formed id of no commit");
}

#[test]
fn read_blob_reads_each_commit_as_it_was() {
    let repo = TestRepo::new();
    repo.write("coin/module_config.yaml", "version: 1\n");
    let old = commit_id(&repo.commit("old"));
    repo.write("coin/module_config.yaml", "version: 2\n");
    repo.write("coin/new.yaml", "new\n");
    let new = commit_id(&repo.commit("new"));
    repo.write("coin/module_config.yaml", "uncommitted\n");
    let git = repo.open();

    let read = |commit: &CommitId, path: &str| git.read_blob(commit, path).unwrap();
    assert_eq!(read(&old, "coin/module_config.yaml").as_deref(), Some(&b"version: 1\n"[..]));
    assert_eq!(read(&new, "coin/module_config.yaml").as_deref(), Some(&b"version: 2\n"[..]));
    assert_eq!(read(&old, "coin/new.yaml"), None, "not yet added");
    assert_eq!(read(&new, "coin/new.yaml").as_deref(), Some(&b"new\n"[..]));
    assert_eq!(read(&new, "coin"), None, "a folder");
    assert_eq!(read(&new, "missing.yaml"), None);
    assert_eq!(read(&commit_id(&"0".repeat(40)), "coin/new.yaml"), None, "an unknown commit");
}

#[test]
fn read_blob_returns_binary_and_multiline_content_exactly() {
    let repo = TestRepo::new();
    let mut binary: Vec<u8> = (0..=255).collect();
    binary.extend_from_slice(b"\n\n 0 blob 12\nmissing\n\0\r\n");
    repo.write("binary", &binary);
    repo.write("lines.yaml", "a: 1\n\nb: |\n  two\n  lines\n");
    repo.write("empty", "");
    repo.write("no newline", "end");
    repo.write("odd\nname", "newline in the path");
    let head = commit_id(&repo.commit("content"));
    let git = repo.open();

    let read = |path: &str| git.read_blob(&head, path).unwrap();
    assert_eq!(read("binary"), Some(binary.clone()));
    assert_eq!(read("lines.yaml").as_deref(), Some(&b"a: 1\n\nb: |\n  two\n  lines\n"[..]));
    assert_eq!(read("empty"), Some(Vec::new()));
    assert_eq!(read("no newline").as_deref(), Some(&b"end"[..]));
    assert_eq!(read("odd\nname").as_deref(), Some(&b"newline in the path"[..]));
    assert_eq!(read("binary"), Some(binary), "the stream stays in step");
}

#[test]
fn one_batch_process_serves_many_reads() {
    let repo = TestRepo::new();
    for i in 0..10 {
        repo.write(&format!("coin/file{i}.yaml"), format!("file {i}\n"));
    }
    let head = commit_id(&repo.commit("files"));
    let git = repo.open();
    for round in 0..200 {
        let i = round % 10;
        let content = git.read_blob(&head, &format!("coin/file{i}.yaml")).unwrap();
        assert_eq!(content, Some(format!("file {i}\n").into_bytes()), "read {round}");
        if round % 7 == 0 {
            assert_eq!(git.read_blob(&head, "coin/missing.yaml").unwrap(), None);
        }
    }
}

#[test]
fn tree_ids_follow_content_not_commits() {
    let repo = TestRepo::new();
    repo.write("a", "one");
    let first = commit_id(&repo.commit("first"));
    repo.write("a", "two");
    let second = commit_id(&repo.commit("second"));
    repo.write("a", "one");
    let third = commit_id(&repo.commit("back to the first content"));
    let git = repo.open();

    let tree = |commit: &CommitId| git.tree_of(commit).unwrap().expect("a tree");
    assert_ne!(tree(&first), tree(&second));
    assert_eq!(tree(&first), tree(&third));
    assert_eq!(tree(&first).as_str(), repo.git(&["rev-parse", &format!("{first}^{{tree}}")]));
    assert_eq!(git.tree_of(&commit_id(&"0".repeat(40))).unwrap(), None);
}

#[test]
fn submodule_pin_reads_the_gitlink() {
    let repo = TestRepo::new();
    repo.write("qtbase.txt", "not a submodule");
    let pinned = "0123456789abcdef0123456789abcdef01234567";
    repo.git(&["update-index", "--add", "--cacheinfo", &format!("160000,{pinned},qtbase")]);
    repo.git(&["update-index", "--add", "--cacheinfo", &format!("160000,{pinned},dir/qt*svg")]);
    repo.git(&["add", "qtbase.txt"]);
    repo.git(&["commit", "-q", "-m", "pin"]);
    let head = commit_id(&repo.git(&["rev-parse", "HEAD"]));
    let git = repo.open();

    assert_eq!(git.submodule_pin(&head, "qtbase").unwrap(), Some(commit_id(pinned)));
    assert_eq!(git.submodule_pin(&head, "dir/qt*svg").unwrap(), Some(commit_id(pinned)));
    assert_eq!(git.submodule_pin(&head, "dir/qtXsvg").unwrap(), None, "no glob matching");
    assert_eq!(git.submodule_pin(&head, "dir").unwrap(), None, "a folder");
    assert_eq!(git.submodule_pin(&head, "qtbase.txt").unwrap(), None, "a file");
    assert_eq!(git.submodule_pin(&head, "qtsvg").unwrap(), None, "nothing");
    assert_eq!(git.read_blob(&head, "qtbase").unwrap(), None, "a gitlink is not a file");
}

#[test]
fn a_failing_git_is_an_error_not_a_missing_object() {
    let repo = TestRepo::new();
    repo.write("a", "a");
    let head = commit_id(&repo.commit("first"));
    let git = repo.open();
    std::fs::remove_dir_all(repo.path().join(".git")).unwrap();

    let error = git.rev_parse_commit("HEAD").unwrap_err();
    assert!(matches!(error, GitError::Failed { .. }), "{error:?}");
    assert!(error.to_string().contains("not a git repository"), "{error}");
    assert!(error.to_string().contains(&repo.path().display().to_string()), "{error}");

    let error = git.read_blob(&head, "a").unwrap_err();
    assert!(matches!(error, GitError::Broken { .. }), "{error:?}");
    assert!(error.to_string().contains("not a git repository"), "{error}");
    assert!(git.submodule_pin(&head, "a").is_err());
}

#[test]
fn export_to_writes_a_commit_from_objects_alone() {
    let repo = TestRepo::new();
    repo.write("dir/file", "old\n");
    repo.write("run", "#!/bin/sh\n");
    fs::set_permissions(repo.path().join("run"), fs::Permissions::from_mode(0o755)).unwrap();
    symlink("dir/file", repo.path().join("link")).unwrap();
    let old = commit_id(&repo.commit("old"));
    repo.write("dir/file", "new\n");
    repo.commit("new");
    repo.write("staged", "staged\n");
    repo.git(&["add", "staged"]);
    repo.write("dir/file", "not committed\n");
    let status = repo.git(&["status", "--porcelain"]);
    let bare = repo.dir.path().join("bare.git");
    repo.git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);

    for (name, git) in
        [("work tree", repo.open()), ("bare", Repository::open(&bare).unwrap().unwrap())]
    {
        let dest = repo.dir.path().join(format!("export {name}"));
        fs::create_dir(&dest).unwrap();
        assert!(git.export_to(&old, &dest).unwrap(), "{name}");
        assert_eq!(fs::read_to_string(dest.join("dir/file")).unwrap(), "old\n", "{name}");
        let mode = fs::metadata(dest.join("run")).unwrap().permissions().mode();
        assert_ne!(mode & 0o100, 0, "{name}: executable");
        assert_eq!(fs::read_link(dest.join("link")).unwrap(), Path::new("dir/file"), "{name}");
        assert!(!dest.join("staged").exists() && !dest.join(".git").exists(), "{name}");
    }
    assert_eq!(repo.git(&["status", "--porcelain"]), status, "index and work tree untouched");

    let dest = repo.dir.path().join("unknown");
    fs::create_dir(&dest).unwrap();
    assert!(!repo.open().export_to(&commit_id(&"0".repeat(40)), &dest).unwrap());
    assert_eq!(fs::read_dir(&dest).unwrap().count(), 0);
}

#[test]
fn clone_to_makes_a_repository_of_its_own() {
    let repo = TestRepo::new();
    repo.write("a", "1");
    let first = repo.commit("first");
    repo.write("a", "2");
    repo.commit("second");
    let git = repo.open();
    let dest = repo.dir.path().join("clone");
    assert!(git.clone_to(&commit_id(&first), &dest).unwrap());
    let unknown = repo.dir.path().join("unknown");
    assert!(!git.clone_to(&commit_id(&"0".repeat(40)), &unknown).unwrap());
    assert!(!unknown.exists());

    assert!(!dest.join(".git/objects/info/alternates").exists());
    let mut folders = vec![dest.join(".git/objects")];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            let metadata = fs::metadata(&path).unwrap();
            if metadata.is_dir() {
                folders.push(path);
            } else {
                assert_eq!(metadata.nlink(), 1, "{}: a copy, not a hard link", path.display());
            }
        }
    }
    fs::remove_dir_all(repo.path()).unwrap();
    let home = repo.dir.path().join("home");
    let in_clone = |args: &[&str]| git_in(&dest, &home, args);
    assert_eq!(in_clone(&["rev-parse", "HEAD"]), first);
    assert_eq!(in_clone(&["rev-parse", "--abbrev-ref", "HEAD"]), "HEAD", "detached");
    assert_eq!(in_clone(&["status", "--porcelain"]), "");
    in_clone(&["fsck", "--full", "--no-dangling"]);
    assert_eq!(fs::read_to_string(dest.join("a")).unwrap(), "1");
}

#[test]
fn clone_to_copies_what_the_repository_borrows() {
    let repo = TestRepo::new();
    repo.write("a", "borrowed");
    let head = repo.commit("first");
    let borrower = repo.dir.path().join("borrower");
    repo.git(&["clone", "-q", "--shared", ".", borrower.to_str().unwrap()]);
    assert!(borrower.join(".git/objects/info/alternates").exists());
    let git = Repository::open(&borrower).unwrap().unwrap();
    let dest = repo.dir.path().join("clone");
    assert!(git.clone_to(&commit_id(&head), &dest).unwrap());

    fs::remove_dir_all(repo.path()).unwrap();
    fs::remove_dir_all(&borrower).unwrap();
    let home = repo.dir.path().join("home");
    git_in(&dest, &home, &["fsck", "--full", "--no-dangling"]);
    assert_eq!(git_in(&dest, &home, &["rev-parse", "HEAD"]), head);
    assert_eq!(fs::read_to_string(dest.join("a")).unwrap(), "borrowed");
}

/// Run on its own by [`inherited_git_variables_are_ignored`], under a hostile environment.
#[test]
fn reads_in_a_fresh_repository() {
    let repo = TestRepo::new();
    repo.write("a", "mine");
    let head = commit_id(&repo.commit("first"));
    let git = repo.open();
    assert_eq!(git.rev_parse_commit("HEAD").unwrap(), Some(head.clone()));
    assert_eq!(git.read_blob(&head, "a").unwrap().as_deref(), Some(&b"mine"[..]));

    let export = repo.dir.path().join("export");
    fs::create_dir(&export).unwrap();
    assert!(git.export_to(&head, &export).unwrap());
    assert_eq!(fs::read_to_string(export.join("a")).unwrap(), "mine");
    let clone = repo.dir.path().join("clone");
    assert!(git.clone_to(&head, &clone).unwrap());
    assert_eq!(fs::read_to_string(clone.join("a")).unwrap(), "mine");
}

#[test]
fn inherited_git_variables_are_ignored() {
    // `GIT_DIR` left by a hook would point every command at another repository.
    let other = TestRepo::new();
    other.write("a", "someone else's");
    other.commit("other");
    let test_binary = std::env::current_exe().unwrap();
    let output = Command::new(test_binary)
        .args(["--exact", "reads_in_a_fresh_repository", "--nocapture"])
        .env("GIT_DIR", other.path().join(".git"))
        .env("GIT_WORK_TREE", other.path())
        .env("GIT_INDEX_FILE", other.path().join("index-elsewhere"))
        .env("GIT_OBJECT_DIRECTORY", other.path().join(".git/objects"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("1 passed"), "the test ran: {stdout}");
}
