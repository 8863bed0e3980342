//! The controller's mirror against real repositories: a developer's work tree publishes to a
//! bare "remote", and the mirror fetches from it, merges, writes commits and pushes back, all
//! over `file://` URLs.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;
use tollgate_git::{
    BranchMove, CommitId, CommitSummary, GitError, Identity, Merge, Mirror, Push, Repository,
    check_version,
};

/// A work tree (`work`), the remote it publishes to (`remote.git`) and a place for the mirror,
/// in one temporary folder, with git isolated from the user's config and `GIT_*` variables.
struct World {
    dir: TempDir,
}

impl World {
    fn new() -> World {
        let world = World { dir: tempfile::tempdir().unwrap() };
        fs::create_dir_all(world.dir.path().join("home")).unwrap();
        fs::create_dir_all(world.work_path()).unwrap();
        world.work(&["init", "-q", "-b", "main"]);
        world.git_ok(world.dir.path(), &["init", "-q", "--bare", "remote.git"]);
        world
    }

    fn work_path(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn remote_path(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    fn mirror_path(&self) -> PathBuf {
        self.dir.path().join("data/mirrors/project")
    }

    fn url(&self) -> String {
        format!("file://{}", self.remote_path().display())
    }

    fn mirror(&self) -> Mirror {
        Mirror::open(self.mirror_path(), &self.url()).unwrap()
    }

    fn work(&self, args: &[&str]) -> String {
        self.git_ok(&self.work_path(), args)
    }

    fn remote(&self, args: &[&str]) -> String {
        self.git_ok(&self.remote_path(), args)
    }

    fn in_mirror(&self, args: &[&str]) -> String {
        self.git_ok(&self.mirror_path(), args)
    }

    fn write(&self, path: &str, content: &str) {
        let path = self.work_path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    fn commit(&self, message: &str) -> CommitId {
        self.work(&["add", "-A"]);
        self.work(&["commit", "-q", "--allow-empty", "-m", message]);
        commit_id(&self.work(&["rev-parse", "HEAD"]))
    }

    /// Pushes from the work tree to the remote, as a developer (or another controller) would.
    fn publish(&self, refspecs: &[&str]) {
        let remote = self.remote_path();
        let mut args = vec!["push", "-q", "--force", remote.to_str().unwrap()];
        args.extend(refspecs);
        self.work(&args);
    }

    /// The remote's branch, read from the remote's own files.
    fn remote_head(&self, branch: &str) -> CommitId {
        commit_id(&self.remote(&["rev-parse", &format!("refs/heads/{branch}")]))
    }

    fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let output = self.git(dir, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "git {args:?} failed: {stderr}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn git(&self, dir: &Path, args: &[&str]) -> Output {
        let mut command = Command::new("git");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GIT_") {
                command.env_remove(key);
            }
        }
        command
            .args(args)
            .current_dir(dir)
            .env("HOME", self.dir.path().join("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Developer")
            .env("GIT_AUTHOR_EMAIL", "dev@example.invalid")
            .env("GIT_COMMITTER_NAME", "Developer")
            .env("GIT_COMMITTER_EMAIL", "dev@example.invalid")
            .output()
            .unwrap()
    }
}

fn commit_id(id: &str) -> CommitId {
    CommitId::parse(id).expect("a full commit id")
}

fn identity() -> Identity {
    Identity { name: "Tollgate".to_owned(), email: "tollgate@example.invalid".to_owned() }
}

const TIME: i64 = 1_700_000_000;

/// `main` at a first commit, published, and fetched into a fresh mirror.
fn published_main() -> (World, Mirror, CommitId) {
    let world = World::new();
    world.write("a", "a\n");
    let first = world.commit("first");
    world.publish(&["main"]);
    let mirror = world.mirror();
    mirror.fetch().unwrap();
    (world, mirror, first)
}

#[test]
fn a_mirror_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mirror>();
}

#[test]
fn check_version_accepts_the_git_on_path() {
    let version = check_version().unwrap();
    assert!(version >= (2, 38, 0), "{version:?}");
}

#[test]
fn open_creates_a_bare_repository_once_and_follows_the_url() {
    let world = World::new();
    let mirror = world.mirror();
    assert_eq!(mirror.path(), world.mirror_path());
    assert_eq!(mirror.url(), world.url());
    assert_eq!(world.in_mirror(&["rev-parse", "--is-bare-repository"]), "true");
    assert_eq!(world.in_mirror(&["config", "remote.origin.url"]), world.url());
    let fetch = world.in_mirror(&["config", "--get-all", "remote.origin.fetch"]);
    assert_eq!(fetch, "+refs/heads/*:refs/heads/*\n+refs/staging/*:refs/staging/*");
    mirror.fetch().unwrap();
    assert_eq!(mirror.refs("refs/").unwrap(), [], "an empty remote fetches nothing");
    let config = fs::read_to_string(world.mirror_path().join("config")).unwrap();

    world.mirror();
    assert_eq!(fs::read_to_string(world.mirror_path().join("config")).unwrap(), config);

    // Settings that would send pushes elsewhere, or send every ref, are removed.
    world.in_mirror(&["config", "remote.origin.mirror", "true"]);
    world.in_mirror(&["config", "remote.origin.pushurl", "file:///elsewhere.git"]);
    world.in_mirror(&["config", "--add", "remote.origin.fetch", "+refs/*:refs/*"]);
    let moved = world.dir.path().join("moved.git");
    let moved_url = format!("file://{}", moved.display());
    let mirror = Mirror::open(world.mirror_path(), &moved_url).unwrap();
    assert_eq!(mirror.url(), moved_url);
    assert_eq!(world.in_mirror(&["config", "remote.origin.url"]), moved_url);
    let fetch = world.in_mirror(&["config", "--get-all", "remote.origin.fetch"]);
    assert_eq!(fetch, "+refs/heads/*:refs/heads/*\n+refs/staging/*:refs/staging/*");
    let left = world.git(&world.mirror_path(), &["config", "--get-regexp", "mirror|pushurl"]);
    assert_eq!(String::from_utf8_lossy(&left.stdout), "");

    for url in ["", "--upload-pack=touch /tmp/owned"] {
        let error = Mirror::open(world.dir.path().join("other"), url).unwrap_err();
        assert!(matches!(error, GitError::Invalid { .. }), "{url:?}: {error:?}");
    }
    assert!(!world.dir.path().join("other").exists());
}

#[test]
fn fetch_copies_branches_and_staged_changes_and_prunes_what_is_gone() {
    let world = World::new();
    world.write("a", "a\n");
    let first = world.commit("first");
    world.work(&["checkout", "-q", "-b", "feature"]);
    world.write("b", "b\n");
    let feature = world.commit("feature");
    world.work(&["tag", "v1"]);
    world.publish(&[
        "main",
        "feature",
        "feature:refs/staging/main/1",
        "v1",
        "feature:refs/changes/1",
    ]);
    let mirror = world.mirror();
    mirror.fetch().unwrap();

    let heads = mirror.refs("refs/heads/").unwrap();
    let expected = [("refs/heads/feature", &feature), ("refs/heads/main", &first)];
    assert_eq!(heads, expected.map(|(name, id)| (name.to_owned(), id.clone())));
    let staging = mirror.refs("refs/staging/").unwrap();
    assert_eq!(staging, [("refs/staging/main/1".to_owned(), feature.clone())]);
    assert_eq!(mirror.refs("refs/tags/").unwrap(), [], "no tags");
    assert_eq!(mirror.resolve("refs/changes/1").unwrap(), None, "other namespaces stay out");

    mirror.set_ref("refs/tollgate/keep/1", &feature).unwrap();
    world.work(&["checkout", "-q", "main"]);
    world.write("a", "second\n");
    let second = world.commit("second");
    world.publish(&["main", ":refs/heads/feature", ":refs/staging/main/1"]);
    world.publish(&["feature:refs/staging/main/2"]);
    mirror.fetch().unwrap();
    mirror.fetch().unwrap();

    assert_eq!(mirror.refs("refs/heads/").unwrap(), [("refs/heads/main".to_owned(), second)]);
    let staging = mirror.refs("refs/staging/").unwrap();
    assert_eq!(staging, [("refs/staging/main/2".to_owned(), feature.clone())]);
    let kept = mirror.refs("refs/tollgate/").unwrap();
    assert_eq!(kept, [("refs/tollgate/keep/1".to_owned(), feature.clone())], "not pruned");

    mirror.delete_ref("refs/tollgate/keep/1").unwrap();
    mirror.delete_ref("refs/tollgate/keep/1").unwrap();
    assert_eq!(mirror.refs("refs/tollgate/").unwrap(), []);
}

#[test]
fn refs_peel_annotated_tags_and_skip_other_objects() {
    let (world, mirror, first) = published_main();
    world.in_mirror(&["tag", "-a", "-m", "annotated", "v1", first.as_str()]);
    world.in_mirror(&["tag", "-a", "-m", "tag of a tag", "v2", "v1"]);
    world.in_mirror(&["tag", "tree", &format!("{first}^{{tree}}")]);
    world.in_mirror(&["update-ref", "refs/tollgate/a/1", first.as_str()]);
    world.in_mirror(&["update-ref", "refs/tollgate/ab/1", first.as_str()]);

    let tags = mirror.refs("refs/tags/").unwrap();
    let expected = ["refs/tags/v1", "refs/tags/v2"].map(|name| (name.to_owned(), first.clone()));
    assert_eq!(tags, expected);
    let under_a = mirror.refs("refs/tollgate/a/").unwrap();
    assert_eq!(under_a, [("refs/tollgate/a/1".to_owned(), first.clone())], "a folder, literally");
    assert_eq!(mirror.refs("refs/nothing/").unwrap(), []);
    for prefix in ["heads/", "--all", ""] {
        let error = mirror.refs(prefix).unwrap_err();
        assert!(matches!(error, GitError::Invalid { .. }), "{prefix:?}: {error:?}");
    }
}

#[test]
fn resolve_names_commits_and_nothing_else() {
    let world = World::new();
    world.write("a", "a\n");
    let first = world.commit("first");
    world.write("a", "b\n");
    let second = world.commit("second");
    world.publish(&["main", "HEAD~1:refs/staging/main/7"]);
    let mirror = world.mirror();
    mirror.fetch().unwrap();

    let resolve = |name: &str| mirror.resolve(name).unwrap();
    assert_eq!(resolve(second.as_str()), Some(second.clone()));
    assert_eq!(resolve(&first.as_str()[..10]), Some(first.clone()), "abbreviated");
    assert_eq!(resolve("main"), Some(second.clone()));
    assert_eq!(resolve("refs/heads/main"), Some(second.clone()));
    assert_eq!(resolve("refs/staging/main/7"), Some(first.clone()));
    assert_eq!(resolve("main~1"), Some(first.clone()));
    let unknown =
        ["nope", "", "-x", "--all", "main^{tree}", "main:a", "main..main", "HEAD@{99}", "refs/"];
    for name in unknown {
        assert_eq!(resolve(name), None, "{name:?}");
    }
    assert_eq!(resolve(&"0".repeat(40)), None, "a well-formed id of no commit");
}

#[test]
fn is_ancestor_follows_history() {
    let world = World::new();
    let first = world.commit("first");
    let second = world.commit("second");
    world.work(&["checkout", "-q", "-b", "side", first.as_str()]);
    let side = world.commit("side");
    world.publish(&["main", "side"]);
    let mirror = world.mirror();
    mirror.fetch().unwrap();

    assert!(mirror.is_ancestor(&first, &second).unwrap());
    assert!(mirror.is_ancestor(&second, &second).unwrap(), "a commit is its own ancestor");
    assert!(!mirror.is_ancestor(&second, &first).unwrap());
    assert!(!mirror.is_ancestor(&side, &second).unwrap());
    assert!(mirror.is_ancestor(&commit_id(&"0".repeat(40)), &second).is_err(), "unknown");
}

/// `main` and `feature` from a common base with files `a`, `b`, `x`, `dir/with space` and
/// `gone`, after `main_edits` and `feature_edits` (`None` deletes).
fn branches(
    main_edits: &[(&str, Option<&str>)],
    feature_edits: &[(&str, Option<&str>)],
) -> (World, Mirror, CommitId, CommitId) {
    let world = World::new();
    for path in ["a", "b", "x", "dir/with space", "gone"] {
        world.write(path, &format!("{path}\nbase\n"));
    }
    world.commit("base");
    world.work(&["branch", "feature"]);
    let edit = |edits: &[(&str, Option<&str>)], message| {
        for (path, content) in edits {
            match content {
                Some(content) => world.write(path, content),
                None => fs::remove_file(world.work_path().join(path)).unwrap(),
            }
        }
        world.commit(message)
    };
    let main = edit(main_edits, "main");
    world.work(&["checkout", "-q", "feature"]);
    let feature = edit(feature_edits, "feature");
    world.publish(&["main", "feature:refs/staging/main/1"]);
    let mirror = world.mirror();
    mirror.fetch().unwrap();
    (world, mirror, main, feature)
}

#[test]
fn a_clean_merge_gives_a_tree_with_both_sides() {
    let (world, mirror, main, feature) =
        branches(&[("a", Some("a from main\n"))], &[("b", Some("b from feature\n"))]);
    let Merge::Clean(tree) = mirror.merge(&main, &feature).unwrap() else {
        panic!("a clean merge");
    };
    let merged = mirror.commit_tree(&tree, &[main, feature], "Merge", &identity(), TIME).unwrap();

    let repository = Repository::open(mirror.path()).unwrap().unwrap();
    let read = |path: &str| repository.read_blob(&merged, path).unwrap().unwrap();
    assert_eq!(read("a"), b"a from main\n");
    assert_eq!(read("b"), b"b from feature\n");
    assert_eq!(read("x"), b"x\nbase\n");
    assert_eq!(repository.tree_of(&merged).unwrap(), Some(tree));
    assert_eq!(world.in_mirror(&["rev-parse", "--is-bare-repository"]), "true");
}

#[test]
fn conflicting_edits_name_exactly_the_conflicting_paths() {
    let (_world, mirror, main, feature) = branches(
        &[
            ("x", Some("x from main\n")),
            ("dir/with space", Some("main\n")),
            ("gone", None),
            ("a", Some("a from main\n")),
        ],
        &[
            ("x", Some("x from feature\n")),
            ("dir/with space", Some("feature\n")),
            ("gone", Some("kept and changed\n")),
            ("b", Some("b from feature\n")),
        ],
    );
    let paths = ["dir/with space", "gone", "x"].map(str::to_owned).to_vec();
    assert_eq!(mirror.merge(&main, &feature).unwrap(), Merge::Conflict(paths.clone()));
    assert_eq!(mirror.merge(&feature, &main).unwrap(), Merge::Conflict(paths));
}

#[test]
fn unrelated_histories_do_not_merge() {
    let (world, mirror, main, _) = branches(&[], &[]);
    world.work(&["checkout", "-q", "--orphan", "lone"]);
    world.write("lone", "lone\n");
    let lone = world.commit("lone");
    world.publish(&["lone"]);
    mirror.fetch().unwrap();

    assert_eq!(mirror.merge(&main, &lone).unwrap(), Merge::Unrelated);
    let unknown = commit_id(&"0".repeat(40));
    let error = mirror.merge(&main, &unknown).unwrap_err();
    assert!(matches!(error, GitError::Failed { .. }), "an unknown commit: {error:?}");
}

#[test]
fn commit_tree_is_deterministic_and_keeps_parents_in_order() {
    let (world, mirror, main, feature) =
        branches(&[("a", Some("main\n"))], &[("b", Some("feature\n"))]);
    let Merge::Clean(tree) = mirror.merge(&main, &feature).unwrap() else { panic!("clean") };
    let message = "Merge feature into main\n\nStaged by someone.\nTested on 3 platforms.";
    let parents = [main.clone(), feature.clone()];
    let commit = |parents: &[CommitId], message: &str, time: i64| {
        mirror.commit_tree(&tree, parents, message, &identity(), time).unwrap()
    };

    let merged = commit(&parents, message, TIME);
    assert_eq!(commit(&parents, message, TIME), merged, "the same inputs, the same commit");
    assert_ne!(commit(&parents, message, TIME + 1), merged);
    assert_ne!(commit(&[feature.clone(), main.clone()], message, TIME), merged);

    assert_eq!(world.in_mirror(&["rev-parse", &format!("{merged}^1")]), main.as_str());
    assert_eq!(world.in_mirror(&["rev-parse", &format!("{merged}^2")]), feature.as_str());
    let raw = world.in_mirror(&["cat-file", "commit", merged.as_str()]);
    let author = "Tollgate <tollgate@example.invalid> 1700000000 +0000";
    assert!(raw.contains(&format!("\nauthor {author}\ncommitter {author}\n")), "{raw}");
    assert!(raw.ends_with(&format!("\n\n{message}")), "the message as given: {raw}");
    assert!(!raw.contains("gpgsig") && !raw.contains("encoding"), "{raw}");

    let root = commit(&[], "--help", TIME);
    assert_eq!(world.in_mirror(&["log", "-1", "--format=%B", root.as_str()]), "--help");
    assert_eq!(world.in_mirror(&["rev-list", "--parents", "-1", root.as_str()]), root.as_str());

    let summary = mirror.describe(&merged).unwrap().unwrap();
    let subject = "Merge feature into main".to_owned();
    assert_eq!(summary, CommitSummary { subject, author: "Tollgate".to_owned() });
    let summary = mirror.describe(&feature).unwrap().unwrap();
    assert_eq!((summary.subject.as_str(), summary.author.as_str()), ("feature", "Developer"));
    assert_eq!(mirror.describe(&commit_id(&"0".repeat(40))).unwrap(), None);
    assert_eq!(mirror.describe(&commit_id(tree.as_str())).unwrap(), None, "a tree");
}

/// `main` published at `first`, and `second` on top of it staged for main.
fn staged_on_main() -> (World, Mirror, CommitId, CommitId) {
    let (world, mirror, first) = published_main();
    world.write("a", "second\n");
    let second = world.commit("second");
    world.publish(&["main:refs/staging/main/1"]);
    mirror.fetch().unwrap();
    (world, mirror, first, second)
}

#[test]
fn push_moves_the_remote_branch_exactly_to_the_commit() {
    let (world, mirror, first, second) = staged_on_main();
    assert_eq!(mirror.remote_branch("main").unwrap(), Some(first.clone()));
    assert_eq!(mirror.remote_branch("dev").unwrap(), None);

    assert_eq!(mirror.push(&second, "main", &first).unwrap(), Push::Pushed);
    assert_eq!(world.remote_head("main"), second);
    assert_eq!(mirror.remote_branch("main").unwrap(), Some(second.clone()));
    assert_eq!(mirror.resolve("refs/heads/main").unwrap(), Some(second.clone()), "local too");

    // A retry after a crash: the branch is where the first push put it.
    assert_eq!(mirror.push(&second, "main", &first).unwrap(), Push::AlreadyThere);
    assert_eq!(mirror.push(&second, "main", &second).unwrap(), Push::AlreadyThere);
    assert_eq!(world.remote_head("main"), second);
    let heads = world.remote(&["for-each-ref", "--format=%(refname)", "refs/heads/"]);
    assert_eq!(heads, "refs/heads/main", "nothing else was pushed");
    assert_eq!(mirror.refs("refs/heads/").unwrap(), [("refs/heads/main".to_owned(), second)]);
}

#[test]
fn a_stale_expected_commit_is_rejected_and_the_remote_is_unchanged() {
    let (world, mirror, first, second) = staged_on_main();
    // Someone else moves main on the remote after the mirror's fetch.
    world.work(&["checkout", "-q", "-b", "other", first.as_str()]);
    world.write("other", "other\n");
    let other = world.commit("other");
    world.publish(&["other:main"]);

    let pushed = mirror.push(&second, "main", &first).unwrap();
    assert_eq!(pushed, Push::Rejected { reason: "[rejected] (stale info)".to_owned() });
    assert_eq!(world.remote_head("main"), other);
    assert_eq!(mirror.resolve("main").unwrap(), Some(first.clone()), "the mirror not moved");
    assert_eq!(mirror.remote_branch("main").unwrap(), Some(other));

    // A lease on a branch the remote does not have is stale too.
    let pushed = mirror.push(&second, "dev", &first).unwrap();
    assert!(matches!(pushed, Push::Rejected { .. }), "{pushed:?}");
    assert_eq!(mirror.remote_branch("dev").unwrap(), None);
}

#[test]
fn a_refusal_by_the_server_is_a_rejection() {
    let (world, mirror, first, second) = staged_on_main();
    let hook = world.remote_path().join("hooks/pre-receive");
    fs::create_dir_all(hook.parent().unwrap()).unwrap();
    fs::write(&hook, "#!/bin/sh\necho 'not today' >&2\nexit 1\n").unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();

    let pushed = mirror.push(&second, "main", &first).unwrap();
    let reason = "[remote rejected] (pre-receive hook declined)".to_owned();
    assert_eq!(pushed, Push::Rejected { reason });
    assert_eq!(world.remote_head("main"), first);
}

#[test]
fn a_push_that_would_rewrite_history_is_refused_without_touching_the_remote() {
    let (world, mirror, first, second) = staged_on_main();
    assert_eq!(mirror.push(&second, "main", &first).unwrap(), Push::Pushed);
    let tree = Repository::open(mirror.path()).unwrap().unwrap().tree_of(&first).unwrap().unwrap();
    let parents = std::slice::from_ref(&first);
    let sideways = mirror.commit_tree(&tree, parents, "sideways", &identity(), TIME).unwrap();

    assert_eq!(mirror.push(&first, "main", &second).unwrap(), Push::NotFastForward, "backwards");
    assert_eq!(mirror.push(&sideways, "main", &second).unwrap(), Push::NotFastForward);
    assert_eq!(world.remote_head("main"), second);
    let sent = world.git(&world.remote_path(), &["cat-file", "-e", sideways.as_str()]);
    assert!(!sent.status.success(), "the commit was never sent");
}

#[test]
fn one_push_moves_several_branches_each_on_its_own() {
    let (world, mirror, first, second) = staged_on_main();
    world.publish(&[&format!("{first}:refs/heads/dev"), &format!("{first}:refs/heads/old")]);
    // `old` moves on the remote after the mirror's fetch; `dev` and `main` do not.
    world.publish(&[&format!("{second}:refs/heads/old")]);
    mirror.fetch().unwrap();
    world.work(&["checkout", "-q", "-b", "late", first.as_str()]);
    world.write("late", "late\n");
    let late = world.commit("late");
    world.publish(&["late:refs/heads/old"]);
    let moves = [
        BranchMove { branch: "main".into(), from: first.clone(), to: second.clone() },
        BranchMove { branch: "old".into(), from: second.clone(), to: second.clone() },
        BranchMove { branch: "dev".into(), from: second.clone(), to: first.clone() },
        BranchMove { branch: "new".into(), from: first.clone(), to: second.clone() },
    ];
    let pushed: Vec<Push> =
        mirror.push_all(&moves).unwrap().into_iter().map(Result::unwrap).collect();

    assert_eq!(pushed[0], Push::Pushed);
    assert!(
        matches!(&pushed[1], Push::Rejected { reason } if reason.contains("stale")),
        "{pushed:?}"
    );
    assert_eq!(pushed[2], Push::NotFastForward);
    assert!(
        matches!(&pushed[3], Push::Rejected { .. }),
        "no lease on a missing branch: {pushed:?}"
    );
    assert_eq!(world.remote_head("main"), second);
    assert_eq!(world.remote_head("old"), late, "never overwritten");
    assert_eq!(world.remote_head("dev"), first, "never rewound");
    assert_eq!(mirror.remote_branch("new").unwrap(), None);
    assert_eq!(mirror.resolve("refs/heads/main").unwrap(), Some(second.clone()), "local too");
    assert_eq!(mirror.resolve("refs/heads/old").unwrap(), Some(second.clone()), "as fetched");

    let twice = [moves[0].clone(), moves[0].clone()];
    assert!(matches!(mirror.push_all(&twice), Err(GitError::Invalid { .. })));
}

#[test]
fn remote_branch_reads_exactly_the_branch_named() {
    let (world, mirror, first, second) = staged_on_main();
    world.publish(&["main:refs/heads/x/refs/heads/main"]);
    assert_eq!(mirror.remote_branch("main").unwrap(), Some(first));
    assert_eq!(mirror.remote_branch("x/refs/heads/main").unwrap(), Some(second.clone()));
    assert_eq!(mirror.remote_branch("heads/main").unwrap(), None);

    for branch in ["", "a b", "ma*", "x:main", "main..x", "main~1"] {
        let error = mirror.remote_branch(branch).unwrap_err();
        assert!(matches!(error, GitError::Invalid { .. }), "{branch:?}: {error:?}");
        let error = mirror.push(&second, branch, &second).unwrap_err();
        assert!(matches!(error, GitError::Invalid { .. }), "{branch:?}: {error:?}");
    }
    for name in ["main", "heads/main", "-d"] {
        let error = mirror.set_ref(name, &second).unwrap_err();
        assert!(matches!(error, GitError::Invalid { .. }), "{name:?}: {error:?}");
        assert!(mirror.delete_ref(name).is_err(), "{name:?}");
    }
}

#[test]
fn an_unreachable_remote_is_an_error() {
    let (world, mirror, first, second) = staged_on_main();
    let gone = format!("file://{}", world.dir.path().join("gone.git").display());
    let mirror_elsewhere = Mirror::open(mirror.path(), &gone).unwrap();

    for error in [
        mirror_elsewhere.fetch().unwrap_err(),
        mirror_elsewhere.remote_branch("main").unwrap_err(),
        mirror_elsewhere.push(&second, "main", &first).unwrap_err(),
    ] {
        assert!(matches!(error, GitError::Failed { .. }), "{error:?}");
        assert!(error.to_string().contains("gone.git"), "{error}");
    }
    assert_eq!(world.remote_head("main"), first);
    assert_eq!(mirror_elsewhere.resolve("main").unwrap(), Some(first), "nothing moved");
}

/// Ref files under the mirror's `refs/`, as an operator finds them.
fn loose_refs(world: &World) -> Vec<String> {
    let names = world.in_mirror(&["for-each-ref", "--format=%(refname)"]);
    names
        .lines()
        .filter(|name| world.mirror_path().join(name).is_file())
        .map(str::to_owned)
        .collect()
}

fn loose_objects(world: &World) -> u64 {
    let counted = world.in_mirror(&["count-objects", "-v"]);
    let count = counted.lines().find_map(|line| line.strip_prefix("count: ")).unwrap();
    count.parse().unwrap()
}

#[test]
fn deleting_refs_removes_them_together_packed_or_loose() {
    let (world, mirror, first) = published_main();
    for n in 1..=3 {
        mirror.set_ref(&format!("refs/tollgate/changes/{n}"), &first).unwrap();
    }
    world.in_mirror(&["pack-refs", "--all"]);
    mirror.set_ref("refs/tollgate/changes/4", &first).unwrap();
    let names: Vec<String> = [1, 2, 4, 5].map(|n| format!("refs/tollgate/changes/{n}")).into();
    mirror.delete_refs(&names).unwrap();
    let left = mirror.refs("refs/tollgate/").unwrap();
    assert_eq!(left, [("refs/tollgate/changes/3".to_owned(), first.clone())]);
    let packed = fs::read_to_string(world.mirror_path().join("packed-refs")).unwrap();
    assert!(!packed.contains("refs/tollgate/changes/1\n"), "{packed}");
    assert_eq!(world.in_mirror(&["rev-parse", "refs/tollgate/changes/3"]), first.as_str());
}

#[test]
fn maintenance_packs_refs_and_objects_and_the_mirror_goes_on_merging_and_pushing() {
    let (world, mirror, main, feature) =
        branches(&[("a", Some("main\n"))], &[("b", Some("feature\n"))]);
    let Merge::Clean(tree) = mirror.merge(&main, &feature).unwrap() else { panic!("clean") };
    let merged = mirror
        .commit_tree(&tree, &[main.clone(), feature.clone()], "Merge", &identity(), TIME)
        .unwrap();
    mirror.set_ref("refs/tollgate/integrations/1", &merged).unwrap();
    // Written by merge-tree and commit-tree, named by no ref: must survive the upkeep.
    let Merge::Clean(orphan_tree) = mirror.merge(&feature, &main).unwrap() else { panic!() };
    let orphan = mirror
        .commit_tree(&orphan_tree, std::slice::from_ref(&feature), "Orphan", &identity(), TIME)
        .unwrap();
    assert!(!loose_refs(&world).is_empty());
    assert!(loose_objects(&world) > 0);

    mirror.maintain().unwrap();
    assert_eq!(loose_refs(&world), Vec::<String>::new(), "every ref packed");
    let packed = fs::read_to_string(world.mirror_path().join("packed-refs")).unwrap();
    assert!(packed.contains(" refs/tollgate/integrations/1\n"), "{packed}");
    assert!(packed.contains(" refs/heads/main\n"), "{packed}");
    assert_eq!(loose_objects(&world), 0, "every object packed");
    let graphs = world.mirror_path().join("objects/info/commit-graphs");
    assert!(graphs.is_dir() || world.mirror_path().join("objects/info/commit-graph").is_file());
    assert_eq!(mirror.describe(&orphan).unwrap().unwrap().subject, "Orphan", "kept, packed");
    mirror.maintain().unwrap();

    // The mirror works as before: a ref moves, a merge merges, a push pushes.
    assert_eq!(mirror.resolve("refs/tollgate/integrations/1").unwrap(), Some(merged.clone()));
    assert_eq!(mirror.merge(&main, &feature).unwrap(), Merge::Clean(tree));
    assert_eq!(mirror.push(&merged, "main", &main).unwrap(), Push::Pushed);
    assert_eq!(world.remote_head("main"), merged);
    mirror.delete_ref("refs/tollgate/integrations/1").unwrap();
    assert_eq!(mirror.refs("refs/tollgate/").unwrap(), []);
    mirror.fetch().unwrap();
    assert_eq!(mirror.resolve("refs/heads/main").unwrap(), Some(merged));
}

#[test]
fn staging_refs_are_removed_from_the_remote_only_where_they_still_name_the_commit() {
    let (world, mirror, first, second) = staged_on_main();
    world.publish(&[
        &format!("{second}:refs/staging/main/2"),
        &format!("{second}:refs/staging/main/3"),
    ]);
    mirror.fetch().unwrap();
    // A developer pushes another commit to `3` after the mirror's fetch.
    world.publish(&[&format!("{first}:refs/staging/main/3")]);
    let refs = [
        ("refs/staging/main/1".to_owned(), second.clone()),
        ("refs/staging/main/2".to_owned(), second.clone()),
        ("refs/staging/main/3".to_owned(), second.clone()),
        ("refs/staging/main/gone".to_owned(), second.clone()),
    ];
    assert_eq!(mirror.delete_staging_refs(&refs).unwrap(), [true, true, false, false]);
    let left =
        world.remote(&["for-each-ref", "--format=%(refname) %(objectname)", "refs/staging/"]);
    assert_eq!(left, format!("refs/staging/main/3 {first}"), "the moved one stays");
    assert_eq!(mirror.resolve("refs/staging/main/1").unwrap(), None, "gone from the mirror too");
    let outside = [("refs/heads/main".to_owned(), second.clone())];
    assert!(matches!(mirror.delete_staging_refs(&outside), Err(GitError::Invalid { .. })));
    assert_eq!(world.remote_head("main"), first);
}
