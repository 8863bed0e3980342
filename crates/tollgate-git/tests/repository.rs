//! Reads from real repositories made by real git.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;
use tollgate_git::{CommitId, GitError, Repository};

/// A repository in a temporary folder, made with git isolated from the user's config and from
/// any `GIT_*` variable the test runs under.
struct TestRepo {
    dir: TempDir,
}

impl TestRepo {
    fn new() -> TestRepo {
        TestRepo::new_in(tempfile::tempdir().unwrap())
    }

    fn new_in(dir: TempDir) -> TestRepo {
        let repo = TestRepo { dir };
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
    git_with_input(dir, home, args, "")
}

fn git_with_input(dir: &Path, home: &Path, args: &[&str], input: &str) -> String {
    let mut command = Command::new("git");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
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
    // git dies on these rather than answering; the batch process is replaced.
    for unknown in ["HEAD@{upstream}", "main@{99}", "HEAD\nmain", "HEAD\r", "HEAD\0"] {
        assert_eq!(resolve(unknown), None, "{unknown:?}");
        assert_eq!(resolve("HEAD"), Some(commit_id(&second)), "after {unknown:?}");
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
    repo.write("odd\r", "carriage return at the end");
    let head = commit_id(&repo.commit("content"));
    let git = repo.open();

    let read = |path: &str| git.read_blob(&head, path).unwrap();
    assert_eq!(read("binary"), Some(binary.clone()));
    assert_eq!(read("lines.yaml").as_deref(), Some(&b"a: 1\n\nb: |\n  two\n  lines\n"[..]));
    assert_eq!(read("empty"), Some(Vec::new()));
    assert_eq!(read("no newline").as_deref(), Some(&b"end"[..]));
    assert_eq!(read("odd\nname").as_deref(), Some(&b"newline in the path"[..]));
    assert_eq!(read("odd\r").as_deref(), Some(&b"carriage return at the end"[..]));
    assert_eq!(read("odd"), None, "not the same name");
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
        assert!(git.export_to(&old, &dest).unwrap().is_some(), "{name}");
        assert_eq!(fs::read_to_string(dest.join("dir/file")).unwrap(), "old\n", "{name}");
        let mode = fs::metadata(dest.join("run")).unwrap().permissions().mode();
        assert_ne!(mode & 0o100, 0, "{name}: executable");
        assert_eq!(fs::read_link(dest.join("link")).unwrap(), Path::new("dir/file"), "{name}");
        assert!(!dest.join("staged").exists() && !dest.join(".git").exists(), "{name}");
    }
    assert_eq!(repo.git(&["status", "--porcelain"]), status, "index and work tree untouched");

    let dest = repo.dir.path().join("unknown");
    fs::create_dir(&dest).unwrap();
    assert!(repo.open().export_to(&commit_id(&"0".repeat(40)), &dest).unwrap().is_none());
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
    assert!(git.export_to(&head, &export).unwrap().is_some());
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

#[test]
fn commit_info_reads_tree_parents_author_and_subject() {
    let repo = TestRepo::new();
    repo.write("a", "a");
    let root = commit_id(&repo.commit("Root\nwrapped subject\n\nbody"));
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("b", "b");
    let side = commit_id(&repo.commit("side"));
    repo.git(&["checkout", "-q", "main"]);
    repo.write("c", "c");
    let main = commit_id(&repo.commit("main"));
    repo.git(&["merge", "-q", "--no-ff", "-m", "Merge side", "side"]);
    let merge = commit_id(&repo.git(&["rev-parse", "HEAD"]));
    let git = repo.open();

    let info = git.commit_info(&root).unwrap().expect("a commit");
    assert_eq!(info.tree, git.tree_of(&root).unwrap().unwrap());
    assert_eq!(info.parents, []);
    assert_eq!(info.author, "Test");
    assert_eq!(info.subject, "Root wrapped subject");
    let info = git.commit_info(&merge).unwrap().expect("a commit");
    assert_eq!(info.parents, [main, side], "first parent first");
    assert_eq!(info.subject, "Merge side");

    assert_eq!(git.commit_info(&commit_id(&"0".repeat(40))).unwrap(), None, "no such object");
    let tree = git.tree_of(&root).unwrap().unwrap();
    assert_eq!(git.commit_info(&commit_id(tree.as_str())).unwrap(), None, "a tree");
}

/// A file, folder or symlink as a checkout leaves it.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Folder { mode: u32 },
    File { mode: u32, content: Vec<u8> },
    Link { target: PathBuf },
}

/// Everything below `root` but a top-level `.git`.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut nodes = BTreeMap::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(root.join(&folder)).unwrap() {
            let path = folder.join(entry.unwrap().file_name());
            if path == Path::new(".git") {
                continue;
            }
            let full = root.join(&path);
            let metadata = fs::symlink_metadata(&full).unwrap();
            let mode = metadata.permissions().mode() & 0o7777;
            let node = if metadata.is_symlink() {
                Node::Link { target: fs::read_link(&full).unwrap() }
            } else if metadata.is_dir() {
                folders.push(path.clone());
                Node::Folder { mode }
            } else {
                Node::File { mode, content: fs::read(&full).unwrap() }
            };
            nodes.insert(path, node);
        }
    }
    nodes
}

/// A commit with what a checkout writes in different ways: nested folders, an executable, an
/// empty file, symlinks to a file, a folder and nothing, a gitlink; and `.github`, which is not
/// `.git`. The second commit adds `.gitattributes` converting `*.txt` to CRLF.
fn commits_to_export(repo: &TestRepo) -> (CommitId, CommitId) {
    repo.write("dir/sub/deep.txt", "deep\nlines\n");
    repo.write("dir/a.txt", "a\n");
    repo.write("bin/run", "#!/bin/sh\n");
    fs::set_permissions(repo.path().join("bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
    repo.write("empty", "");
    repo.write(".github/workflows/ci.yml", "on: push\n");
    symlink("dir/a.txt", repo.path().join("link")).unwrap();
    symlink("dir", repo.path().join("dir-link")).unwrap();
    symlink("../nowhere", repo.path().join("dir/dangling")).unwrap();
    repo.git(&["add", "-A"]);
    let pinned = "0123456789abcdef0123456789abcdef01234567";
    repo.git(&["update-index", "--add", "--cacheinfo", &format!("160000,{pinned},dir/module")]);
    // Not `TestRepo::commit`: `add -A` would drop the gitlink, which has no folder here.
    let commit = |message: &str| {
        repo.git(&["commit", "-q", "-m", message]);
        commit_id(&repo.git(&["rev-parse", "HEAD"]))
    };
    let plain = commit("plain");
    repo.write(".gitattributes", "*.txt eol=crlf\n");
    repo.git(&["add", ".gitattributes"]);
    (plain, commit("converted"))
}

/// What `git checkout` writes for `commit`, in a clone of `repo`.
fn checked_out(repo: &TestRepo, commit: &CommitId) -> BTreeMap<PathBuf, Node> {
    let clone = repo.dir.path().join(format!("checkout {commit}"));
    repo.git(&["clone", "-q", "--no-checkout", ".", clone.to_str().unwrap()]);
    git_in(&clone, &repo.dir.path().join("home"), &["checkout", "-q", "--detach", commit.as_str()]);
    snapshot(&clone)
}

fn exported(repo: &TestRepo, git: &Repository, commit: &CommitId) -> BTreeMap<PathBuf, Node> {
    let dest = repo.dir.path().join(format!("export {commit}"));
    fs::create_dir(&dest).unwrap();
    assert!(git.export_to(commit, &dest).unwrap().is_some());
    snapshot(&dest)
}

#[test]
fn export_to_writes_what_a_checkout_writes_with_or_without_conversions() {
    let repo = TestRepo::new();
    let (plain, converted) = commits_to_export(&repo);
    let git = repo.open();

    let files = exported(&repo, &git, &plain);
    assert_eq!(files, checked_out(&repo, &plain), "without attributes");
    assert_eq!(files[Path::new("dir/module")], Node::Folder { mode: 0o755 }, "a gitlink");
    assert!(matches!(files[Path::new("bin/run")], Node::File { mode: 0o755, .. }));
    assert!(
        matches!(&files[Path::new("dir/a.txt")], Node::File { content, .. } if content == b"a\n")
    );

    let files = exported(&repo, &git, &converted);
    assert_eq!(files, checked_out(&repo, &converted), "with `.gitattributes`");
    let crlf = Node::File { mode: 0o644, content: b"a\r\n".to_vec() };
    assert_eq!(files[Path::new("dir/a.txt")], crlf, "converted");
}

/// Run on its own by [`export_to_needs_no_scratch_folder_without_conversions`], with a `TMPDIR`
/// that does not exist, which only git's way of exporting needs.
#[test]
fn exports_without_a_scratch_folder() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let repo = TestRepo::new_in(root);
    let (plain, converted) = commits_to_export(&repo);
    let git = repo.open();
    assert_eq!(exported(&repo, &git, &plain), checked_out(&repo, &plain));

    let dest = repo.dir.path().join("by git");
    fs::create_dir(&dest).unwrap();
    let by_git = git.export_to(&converted, &dest);
    if !std::env::temp_dir().exists() {
        assert!(matches!(by_git, Err(GitError::Io { .. })), "git's way needs one: {by_git:?}");
    }
}

#[test]
fn export_to_needs_no_scratch_folder_without_conversions() {
    let home = tempfile::tempdir().unwrap();
    let test_binary = std::env::current_exe().unwrap();
    let output = Command::new(test_binary)
        .args(["--exact", "exports_without_a_scratch_folder", "--nocapture"])
        .env("TMPDIR", home.path().join("missing"))
        // No global config or attributes of the user's may ask for conversions.
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("1 passed"), "the test ran: {stdout}");
}

/// A commit of a tree holding `hostile` (a tree entry line for `git mktree`, where `{evil}`
/// is a tree holding a file `evil`), at the root or below `dir/`, next to a plain file.
fn hostile_commit(repo: &TestRepo, hostile: &str, nested: bool) -> CommitId {
    let home = repo.dir.path().join("home");
    let mktree = |entries: &str| git_with_input(&repo.path(), &home, &["mktree"], entries);
    let blob = git_with_input(&repo.path(), &home, &["hash-object", "-w", "--stdin"], "evil\n");
    let evil = mktree(&format!("100644 blob {blob}\tevil\n"));
    let mut entries = hostile.replace("{blob}", &blob).replace("{evil}", &evil);
    if nested {
        entries = format!("040000 tree {}\tdir\n", mktree(&entries));
    }
    let root = mktree(&format!("100644 blob {blob}\ta\n{entries}"));
    commit_id(&repo.git(&["commit-tree", &root, "-m", "hostile"]))
}

#[test]
fn export_to_refuses_paths_git_refuses_and_writes_nothing_outside() {
    let repo = TestRepo::new();
    repo.write("a", "a");
    repo.commit("first");
    let git = repo.open();
    let cases = [
        ("040000 tree {evil}\t..\n", true),
        ("040000 tree {evil}\t.git\n", true),
        ("040000 tree {evil}\t.GIT\n", true),
        ("100644 blob {blob}\t.\n", true),
        // Refused by git's NTFS protection, which the fast path leaves to git.
        ("040000 tree {evil}\t.git.\n", false),
        ("040000 tree {evil}\tgit~1\n", false),
    ];
    for (i, (hostile, refused_here)) in cases.into_iter().enumerate() {
        for nested in [false, true] {
            let commit = hostile_commit(&repo, hostile, nested);
            let sandbox = repo.dir.path().join(format!("sandbox {i} {nested}"));
            let dest = sandbox.join("dest");
            fs::create_dir_all(&dest).unwrap();
            let error = git.export_to(&commit, &dest).unwrap_err();
            if refused_here {
                let name = hostile.split('\t').nth(1).unwrap().trim();
                let path = if nested { format!("dir/{name}") } else { name.to_owned() };
                assert!(matches!(error, GitError::Invalid { .. }), "{hostile}: {error:?}");
                let message = error.to_string();
                assert!(message.contains(&format!("{commit}:{path}\"")), "{message}");
            } else {
                assert!(matches!(error, GitError::Failed { .. }), "{hostile}: {error:?}");
                assert!(error.to_string().contains("invalid path"), "{error}");
            }
            assert_eq!(fs::read_dir(&dest).unwrap().count(), 0, "{hostile}: nothing written");
            assert_eq!(fs::read_dir(&sandbox).unwrap().count(), 1, "{hostile}: nor next to it");
        }
    }
}

#[test]
fn export_to_applies_converting_config_and_attribute_files() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    let head = commit_id(&repo.commit("text"));
    let export = |git: &Repository, name: &str| {
        let dest = repo.dir.path().join(name);
        fs::create_dir(&dest).unwrap();
        assert!(git.export_to(&head, &dest).unwrap().is_some());
        fs::read(dest.join("a.txt")).unwrap()
    };

    let git = repo.open();
    assert_eq!(export(&git, "plain"), b"a\n");
    let info = repo.path().join(".git/info/attributes");
    fs::create_dir_all(info.parent().unwrap()).unwrap();
    fs::write(&info, "*.txt eol=crlf\n").unwrap();
    assert_eq!(export(&git, "info attributes"), b"a\r\n", "seen by the same repository");
    fs::remove_file(&info).unwrap();
    assert_eq!(export(&git, "plain again"), b"a\n");

    repo.git(&["config", "core.autocrlf", "true"]);
    assert_eq!(export(&repo.open(), "autocrlf"), b"a\r\n", "read by a new repository");
    repo.git(&["config", "core.autocrlf", "false"]);
    assert_eq!(export(&repo.open(), "autocrlf off"), b"a\n");
}
