//! A sources folder of real git repositories and plain folders, read through `Source`.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;
use tollgate_core::source::{Pin, ProjectName, RepoPath, Revision, Source, SourceError};
use tollgate_sources::SourcesDir;

/// A temporary sources folder (`sources/`), with room beside it for things outside it.
struct Fixture {
    dir: TempDir,
}

/// A git repository made by real git, isolated from the user's config and from any `GIT_*`
/// variable the tests run under.
struct TestRepo {
    path: PathBuf,
    home: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture { dir: tempfile::tempdir().unwrap() };
        fs::create_dir_all(fixture.root()).unwrap();
        fs::create_dir_all(fixture.dir.path().join("home")).unwrap();
        fixture
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("sources")
    }

    fn outside(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    fn git_project(&self, name: &str) -> TestRepo {
        let repo = TestRepo { path: self.root().join(name), home: self.dir.path().join("home") };
        fs::create_dir_all(&repo.path).unwrap();
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn plain_project(&self, name: &str) -> PathBuf {
        let path = self.root().join(name);
        fs::create_dir_all(&path).unwrap();
        path
    }

    fn sources(&self) -> SourcesDir {
        SourcesDir::new(self.root())
    }
}

impl TestRepo {
    fn git(&self, args: &[&str]) -> String {
        let mut command = Command::new("git");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GIT_") {
                command.env_remove(key);
            }
        }
        let output = command
            .args(args)
            .current_dir(&self.path)
            .env("HOME", &self.home)
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

    fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        write(&self.path.join(path), content);
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

fn write(path: &Path, content: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn project(name: &str) -> ProjectName {
    ProjectName::new(name).unwrap()
}

fn pin(name: &str, revision: &str) -> Pin {
    Pin::new(project(name), Revision::new(revision))
}

fn path(path: &str) -> RepoPath {
    RepoPath::new(path).unwrap()
}

fn read(sources: &SourcesDir, pin: &Pin, file: &str) -> Option<String> {
    let content = sources.read(pin, &path(file)).unwrap();
    content.map(|bytes| String::from_utf8(bytes).unwrap())
}

#[test]
fn git_projects_are_read_at_the_pinned_revision() {
    let fixture = Fixture::new();
    let repo = fixture.git_project("qt/qtbase");
    repo.write("coin/module_config.yaml", "version: 1\n");
    let old = repo.commit("old");
    repo.write("coin/module_config.yaml", "version: 2\n");
    repo.write("coin/added.yaml", "added\n");
    let new = repo.commit("new");
    repo.write("coin/module_config.yaml", "not committed\n");
    let sources = fixture.sources();

    let config = "coin/module_config.yaml";
    assert_eq!(read(&sources, &pin("qt/qtbase", &old), config).as_deref(), Some("version: 1\n"));
    assert_eq!(read(&sources, &pin("qt/qtbase", &new), config).as_deref(), Some("version: 2\n"));
    assert_eq!(read(&sources, &pin("qt/qtbase", "main"), config).as_deref(), Some("version: 2\n"));
    assert_eq!(read(&sources, &pin("qt/qtbase", &old), "coin/added.yaml"), None, "not yet added");
    assert_eq!(read(&sources, &pin("qt/qtbase", &new), "coin"), None, "a folder");
    assert_eq!(read(&sources, &pin("qt/qtbase", &new), "missing.yaml"), None);
    assert!(sources.is_git(&project("qt/qtbase")).unwrap());
    assert_eq!(sources.head(&project("qt/qtbase")).unwrap(), Revision::new(new));
}

#[test]
fn unknown_revisions_and_projects_are_facts_about_the_input() {
    let fixture = Fixture::new();
    let repo = fixture.git_project("qt/qtbase");
    repo.write("a", "a");
    repo.commit("first");
    fixture.plain_project("qt/qtsvg");
    let sources = fixture.sources();

    let unknown = pin("qt/qtbase", "no-such-branch");
    let expected = SourceError::UnknownRevision(unknown.clone());
    assert_eq!(sources.read(&unknown, &path("a")), Err(expected.clone()));
    assert_eq!(sources.tree_id(&unknown), Err(expected.clone()));
    assert_eq!(sources.submodule_pin(&unknown, &path("a")), Err(expected.clone()));
    assert_eq!(sources.resolve(&project("qt/qtbase"), "no-such-branch"), Err(expected));
    let absent_commit = pin("qt/qtbase", &"0".repeat(40));
    assert_eq!(
        sources.read(&absent_commit, &path("a")),
        Err(SourceError::UnknownRevision(absent_commit.clone()))
    );

    let missing = project("qt/qtnothing");
    let expected = SourceError::UnknownProject(missing.clone());
    let at = Pin::new(missing.clone(), Revision::new("main"));
    assert_eq!(sources.read(&at, &path("a")), Err(expected.clone()));
    assert_eq!(sources.tree_id(&at), Err(expected.clone()));
    assert_eq!(sources.resolve(&missing, "main"), Err(expected.clone()));
    assert_eq!(sources.submodule_pin(&at, &path("a")), Err(expected.clone()));
    assert_eq!(sources.head(&missing), Err(expected.clone()));
    assert_eq!(sources.is_git(&missing), Err(expected));

    write(&fixture.root().join("qt/afile"), "a file, not a project folder");
    let file = project("qt/afile");
    assert_eq!(sources.head(&file), Err(SourceError::UnknownProject(file.clone())));
    assert_eq!(
        sources.read(&pin("qt/qtsvg/a", "main"), &path("a")),
        Err(SourceError::UnknownProject(project("qt/qtsvg/a")))
    );
}

#[test]
fn a_project_appears_once_its_folder_does() {
    let fixture = Fixture::new();
    let sources = fixture.sources();
    let name = project("qt/qtbase");
    assert_eq!(sources.is_git(&name), Err(SourceError::UnknownProject(name.clone())));
    fixture.plain_project("qt/qtbase");
    assert_eq!(sources.is_git(&name), Ok(false));
}

#[test]
fn a_missing_sources_folder_is_unavailable_not_an_unknown_project() {
    let fixture = Fixture::new();
    let sources = SourcesDir::new(fixture.dir.path().join("no-such-folder"));
    let error = sources.head(&project("qt/qtbase")).unwrap_err();
    assert!(
        matches!(&error, SourceError::Unavailable(m) if m.contains("no-such-folder")),
        "{error}"
    );
}

#[test]
fn resolve_finds_branches_tags_ids_and_origin_branches() {
    let fixture = Fixture::new();
    let upstream = fixture.git_project("upstream/qtbase");
    upstream.write("a", "1");
    let first = upstream.commit("first");
    upstream.git(&["tag", "-a", "-m", "release", "v6.8.0"]);
    upstream.git(&["checkout", "-q", "-b", "dev"]);
    upstream.write("a", "2");
    let dev = upstream.commit("on dev");
    upstream.git(&["checkout", "-q", "main"]);

    let clone = fixture.root().join("qt/qtbase");
    upstream.git(&["clone", "-q", "--no-checkout", ".", clone.to_str().unwrap()]);
    let sources = fixture.sources();
    let qtbase = project("qt/qtbase");

    let resolve = |reference: &str| sources.resolve(&qtbase, reference).unwrap();
    assert_eq!(resolve("main"), Revision::new(&first), "checked-out branch");
    assert_eq!(resolve("dev"), Revision::new(&dev), "only `origin/dev` exists");
    assert_eq!(resolve("origin/dev"), Revision::new(&dev));
    assert_eq!(resolve("v6.8.0"), Revision::new(&first), "a tag peels to its commit");
    assert_eq!(resolve(&dev), Revision::new(&dev));
    assert_eq!(resolve(&dev[..12]), Revision::new(&dev), "an abbreviated id resolves in full");
    assert_eq!(read(&sources, &pin("qt/qtbase", "dev"), "a").as_deref(), Some("2"));

    let plain = fixture.plain_project("qt/qtsvg");
    write(&plain.join("a"), "plain");
    assert_eq!(sources.resolve(&project("qt/qtsvg"), "dev").unwrap(), Revision::new("dev"));
}

#[test]
fn git_tree_ids_follow_content() {
    let fixture = Fixture::new();
    let repo = fixture.git_project("qt/qtbase");
    repo.write("a", "one");
    let first = repo.commit("first");
    repo.write("a", "two");
    let second = repo.commit("second");
    repo.write("a", "one");
    let third = repo.commit("the first content again");
    let sources = fixture.sources();

    let tree = |revision: &str| sources.tree_id(&pin("qt/qtbase", revision)).unwrap();
    assert_ne!(tree(&first), tree(&second));
    assert_eq!(tree(&first), tree(&third));
    let git_tree = repo.git(&["rev-parse", &format!("{first}^{{tree}}")]);
    assert_eq!(tree(&first).as_str(), format!("git:{git_tree}"));
}

#[test]
fn plain_tree_ids_follow_content_and_ignore_git_folders() {
    let fixture = Fixture::new();
    let folder = fixture.plain_project("qt/qtbase");
    write(&folder.join("coin/module_config.yaml"), "version: 1\n");
    write(&folder.join("configure"), "#!/bin/sh\n");
    symlink("coin/module_config.yaml", folder.join("link")).unwrap();
    let sources = fixture.sources();
    let tree = || sources.tree_id(&pin("qt/qtbase", "anything")).unwrap();

    let original = tree();
    assert!(original.as_str().starts_with("blake3:"), "{original}");
    assert_eq!(tree(), original, "stable");
    assert_eq!(sources.tree_id(&pin("qt/qtbase", "other")).unwrap(), original, "any revision");

    write(&folder.join("src/.git/HEAD"), "ref: refs/heads/main\n");
    write(&folder.join("src/.git/objects/x"), "x");
    assert_ne!(tree(), original, "the new folder `src` counts");
    fs::remove_dir_all(folder.join("src/.git")).unwrap();
    let with_src = tree();
    write(&folder.join("src/.git"), "gitdir: elsewhere\n");
    assert_eq!(tree(), with_src, "`.git` entries are skipped");

    write(&folder.join("coin/module_config.yaml"), "version: 2\n");
    let changed = tree();
    assert_ne!(changed, with_src, "content");
    write(&folder.join("coin/module_config.yaml"), "version: 1\n");
    assert_eq!(tree(), with_src, "content restored");

    fs::set_permissions(folder.join("configure"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_ne!(tree(), with_src, "the executable bit");
    fs::set_permissions(folder.join("configure"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(tree(), with_src);

    fs::remove_file(folder.join("link")).unwrap();
    symlink("configure", folder.join("link")).unwrap();
    assert_ne!(tree(), with_src, "the symlink target");
    fs::remove_file(folder.join("link")).unwrap();
    write(&folder.join("link"), "version: 1\n");
    assert_ne!(tree(), with_src, "a file with the target's content is not a symlink");
}

#[test]
fn plain_folders_ignore_the_revision() {
    let fixture = Fixture::new();
    let folder = fixture.plain_project("qt/qtbase");
    write(&folder.join("coin/module_config.yaml"), "version: 1\n");
    fs::create_dir_all(folder.join("coin/platform_configs")).unwrap();
    let sources = fixture.sources();
    let config = "coin/module_config.yaml";

    assert_eq!(read(&sources, &pin("qt/qtbase", "dev"), config).as_deref(), Some("version: 1\n"));
    assert_eq!(read(&sources, &pin("qt/qtbase", "6.8"), config).as_deref(), Some("version: 1\n"));
    write(&folder.join(config), "version: 2\n");
    assert_eq!(read(&sources, &pin("qt/qtbase", "dev"), config).as_deref(), Some("version: 2\n"));
    assert_eq!(read(&sources, &pin("qt/qtbase", "dev"), "coin/platform_configs"), None);
    assert_eq!(read(&sources, &pin("qt/qtbase", "dev"), "coin/module_config.yaml/x"), None);
    assert_eq!(read(&sources, &pin("qt/qtbase", "dev"), "missing"), None);
    assert_eq!(sources.head(&project("qt/qtbase")).unwrap(), Revision::new("worktree"));
    assert!(!sources.is_git(&project("qt/qtbase")).unwrap());
    assert_eq!(sources.submodule_pin(&pin("qt/qtbase", "dev"), &path("qtsvg")), Ok(None));
}

#[test]
fn plain_folder_symlinks_out_of_the_project_are_not_followed() {
    let fixture = Fixture::new();
    let outside = fixture.outside();
    write(&outside.join("secret/key"), "secret");
    let folder = fixture.plain_project("qt/qtbase");
    write(&folder.join("coin/real.yaml"), "real\n");
    symlink(outside.join("secret/key"), folder.join("absolute")).unwrap();
    symlink("../../../secret/key", folder.join("relative")).unwrap();
    symlink(outside.join("secret"), folder.join("folder")).unwrap();
    symlink("real.yaml", folder.join("coin/inside.yaml")).unwrap();
    symlink("../sources/qt/qtbase/coin/real.yaml", outside.join("secret/back")).unwrap();
    symlink("nowhere", folder.join("dangling")).unwrap();
    let sources = fixture.sources();
    let at = pin("qt/qtbase", "dev");

    assert_eq!(read(&sources, &at, "absolute"), None);
    assert_eq!(read(&sources, &at, "relative"), None);
    assert_eq!(read(&sources, &at, "folder/key"), None);
    assert_eq!(read(&sources, &at, "dangling"), None);
    assert_eq!(read(&sources, &at, "coin/inside.yaml").as_deref(), Some("real\n"), "inside");
}

#[test]
fn a_symlinked_project_folder_reads_its_target() {
    let fixture = Fixture::new();
    let checkout = fixture.outside().join("checkout");
    write(&checkout.join("coin/module_config.yaml"), "version: 1\n");
    fs::create_dir_all(fixture.root().join("qt")).unwrap();
    symlink(&checkout, fixture.root().join("qt/qtbase")).unwrap();
    let sources = fixture.sources();

    let config = read(&sources, &pin("qt/qtbase", "dev"), "coin/module_config.yaml");
    assert_eq!(config.as_deref(), Some("version: 1\n"));
}

#[test]
fn submodule_pins_are_gitlinks() {
    let fixture = Fixture::new();
    let qt5 = fixture.git_project("qt/qt5");
    let qtbase = "0123456789abcdef0123456789abcdef01234567";
    qt5.git(&["update-index", "--add", "--cacheinfo", &format!("160000,{qtbase},qtbase")]);
    qt5.write(".gitmodules", "[submodule \"qtbase\"]\n\tpath = qtbase\n");
    qt5.git(&["add", ".gitmodules"]);
    qt5.git(&["commit", "-q", "-m", "pin qtbase"]);
    let sources = fixture.sources();
    let head = pin("qt/qt5", "main");

    assert_eq!(sources.submodule_pin(&head, &path("qtbase")), Ok(Some(Revision::new(qtbase))));
    assert_eq!(sources.submodule_pin(&head, &path("qtsvg")), Ok(None));
    assert_eq!(sources.submodule_pin(&head, &path(".gitmodules")), Ok(None), "a file");
    assert_eq!(sources.read(&head, &path("qtbase")), Ok(None), "a gitlink is not a file");
}

#[test]
fn many_reads_go_through_one_git_process_exactly() {
    let fixture = Fixture::new();
    let repo = fixture.git_project("qt/qtbase");
    let mut binary: Vec<u8> = (0..=255).rev().collect();
    binary.extend_from_slice(b"\nline\n\n\0 missing\n");
    repo.write("data.bin", &binary);
    for i in 0..20 {
        repo.write(&format!("coin/{i}.yaml"), format!("file: {i}\nlines: 2\n"));
    }
    let head = repo.commit("files");
    let sources = fixture.sources();
    let at = pin("qt/qtbase", &head);

    for round in 0..200 {
        let i = round % 20;
        let content = read(&sources, &at, &format!("coin/{i}.yaml"));
        assert_eq!(content, Some(format!("file: {i}\nlines: 2\n")), "read {round}");
        if round % 9 == 0 {
            assert_eq!(sources.read(&at, &path("data.bin")), Ok(Some(binary.clone())));
            assert_eq!(sources.read(&at, &path("coin/none.yaml")), Ok(None));
        }
    }
}

#[test]
fn a_failing_git_is_unavailable() {
    let fixture = Fixture::new();
    let repo = fixture.git_project("qt/qtbase");
    repo.write("a", "a");
    let head = repo.commit("first");
    // Still a git project by its `.git` file, but git cannot open the repository.
    fs::remove_dir_all(repo.path.join(".git")).unwrap();
    write(&repo.path.join(".git"), "gitdir: /nonexistent/repository\n");
    let sources = fixture.sources();
    let at = pin("qt/qtbase", &head);
    let results = [
        sources.read(&at, &path("a")).map(drop),
        sources.tree_id(&at).map(drop),
        sources.head(&project("qt/qtbase")).map(drop),
    ];
    for result in results {
        let error = result.unwrap_err();
        let SourceError::Unavailable(message) = &error else { panic!("{error:?}") };
        assert!(message.contains("not a git repository"), "{message}");
        assert!(message.contains(&repo.path.display().to_string()), "{message}");
    }
}

/// Every entry under `root` without following links, sorted: folders end in `/`, symlinks in
/// `@`, executable files in `*`.
fn listing(root: &Path) -> Vec<String> {
    let mut entries = Vec::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for item in fs::read_dir(&folder).unwrap() {
            let path = item.unwrap().path();
            let metadata = fs::symlink_metadata(&path).unwrap();
            let relative = path.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
            let mark = if metadata.is_dir() {
                folders.push(path);
                "/"
            } else if metadata.is_symlink() {
                "@"
            } else if metadata.permissions().mode() & 0o100 != 0 {
                "*"
            } else {
                ""
            };
            entries.push(relative + mark);
        }
    }
    entries.sort();
    entries
}

fn read_text(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

fn make_executable(path: &Path) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_git_project_exports_the_commits_files_not_the_work_tree() {
    let fixture = Fixture::new();
    let repo = fixture.git_project("qt/qtbase");
    repo.write("coin/module_config.yaml", "version: 1\n");
    repo.write("configure", "#!/bin/sh\n");
    make_executable(&repo.path.join("configure"));
    symlink("coin/module_config.yaml", repo.path.join("link")).unwrap();
    repo.write("removed-later", "old\n");
    // An unpopulated submodule, as a clone without `--recurse-submodules` has it.
    fs::create_dir(repo.path.join("qtsvg")).unwrap();
    let gitlink = "0123456789abcdef0123456789abcdef01234567";
    repo.git(&["update-index", "--add", "--cacheinfo", &format!("160000,{gitlink},qtsvg")]);
    let old = repo.commit("old");
    repo.write("coin/module_config.yaml", "version: 2\n");
    repo.write("added", "new\n");
    fs::remove_file(repo.path.join("removed-later")).unwrap();
    repo.commit("new");
    repo.write("coin/module_config.yaml", "not committed\n");
    repo.write("untracked", "not committed\n");
    let sources = fixture.sources();

    let at_old = fixture.outside().join("old");
    sources.export(&pin("qt/qtbase", &old), &at_old).unwrap();
    let expected = ["coin/", "coin/module_config.yaml", "configure*", "link@", "qtsvg/"];
    assert_eq!(listing(&at_old), [&expected[..], &["removed-later"]].concat());
    assert_eq!(read_text(&at_old.join("coin/module_config.yaml")), "version: 1\n");
    assert_eq!(read_text(&at_old.join("configure")), "#!/bin/sh\n");
    assert_eq!(fs::read_link(at_old.join("link")).unwrap(), Path::new("coin/module_config.yaml"));

    let at_main = fixture.outside().join("main");
    sources.export(&pin("qt/qtbase", "main"), &at_main).unwrap();
    assert_eq!(listing(&at_main), [&["added"], &expected[..]].concat());
    assert_eq!(read_text(&at_main.join("coin/module_config.yaml")), "version: 2\n");
}

#[test]
fn a_plain_folder_exports_its_files_as_they_are() {
    let fixture = Fixture::new();
    let outside = fixture.outside();
    write(&outside.join("secret/key"), "secret");
    let folder = fixture.plain_project("qt/qtbase");
    write(&folder.join("coin/module_config.yaml"), "version: 1\n");
    write(&folder.join("src/deep/nested/file.c"), "int x;\n");
    write(&folder.join("configure"), "#!/bin/sh\n");
    make_executable(&folder.join("configure"));
    fs::create_dir(folder.join("empty")).unwrap();
    symlink("coin/module_config.yaml", folder.join("link")).unwrap();
    symlink(outside.join("secret/key"), folder.join("absolute")).unwrap();
    symlink("../../../secret", folder.join("relative")).unwrap();
    symlink("nowhere", folder.join("dangling")).unwrap();
    // A `.git` at the top would make the project a git repository; nested ones are left out.
    write(&folder.join("src/.git/HEAD"), "ref: refs/heads/main\n");
    write(&folder.join("coin/.git"), "gitdir: elsewhere\n");
    let sources = fixture.sources();

    let dest = fixture.root().join("qt/exported");
    sources.export(&pin("qt/qtbase", "dev"), &dest).unwrap();
    let expected = [
        "absolute@",
        "coin/",
        "coin/module_config.yaml",
        "configure*",
        "dangling@",
        "empty/",
        "link@",
        "relative@",
        "src/",
        "src/deep/",
        "src/deep/nested/",
        "src/deep/nested/file.c",
    ];
    assert_eq!(listing(&dest), expected, "`.git` left out, links not followed");
    assert_eq!(read_text(&dest.join("src/deep/nested/file.c")), "int x;\n");
    assert_eq!(fs::read_link(dest.join("absolute")).unwrap(), outside.join("secret/key"));
    assert_eq!(fs::read_link(dest.join("relative")).unwrap(), Path::new("../../../secret"));
    // The same tree by the tree id's own account: content, kinds, modes and link targets.
    let tree = |name: &str| sources.tree_id(&pin(name, "dev")).unwrap();
    assert_eq!(tree("qt/exported"), tree("qt/qtbase"));

    let cloned = fixture.outside().join("cloned");
    sources.export_clone(&pin("qt/qtbase", "dev"), &cloned).unwrap();
    assert_eq!(listing(&cloned), expected, "no history, so no clone");
}

#[test]
fn export_clone_gives_a_repository_that_outlives_the_sources() {
    let fixture = Fixture::new();
    let upstream = fixture.git_project("upstream/qtbase");
    upstream.write("a", "1\n");
    upstream.commit("first");
    upstream.git(&["checkout", "-q", "-b", "dev"]);
    upstream.write("a", "2\n");
    upstream.write("run", "#!/bin/sh\n");
    make_executable(&upstream.path.join("run"));
    let dev = upstream.commit("on dev");
    upstream.write("a", "3\n");
    upstream.commit("after the pin");
    upstream.git(&["checkout", "-q", "main"]);
    // Only `origin/dev` has the commit; the clone's `HEAD` is `main`.
    let clone = fixture.root().join("qt/qtbase");
    upstream.git(&["clone", "-q", ".", clone.to_str().unwrap()]);
    let sources = fixture.sources();

    let dest = fixture.outside().join("workspace");
    sources.export_clone(&pin("qt/qtbase", &dev), &dest).unwrap();
    fs::rename(fixture.root(), fixture.outside().join("moved")).unwrap();

    let workspace = TestRepo { path: dest.clone(), home: upstream.home.clone() };
    assert_eq!(workspace.git(&["rev-parse", "HEAD"]), dev);
    assert_eq!(workspace.git(&["status", "--porcelain", "--ignored"]), "", "clean");
    assert_eq!(workspace.git(&["rev-parse", "--abbrev-ref", "HEAD"]), "HEAD", "detached");
    assert_eq!(workspace.git(&["log", "--format=%s"]), "on dev\nfirst", "with history");
    workspace.git(&["fsck", "--full", "--no-dangling"]);
    assert!(!dest.join(".git/objects/info/alternates").exists());
    assert_eq!(read_text(&dest.join("a")), "2\n");
    let files: Vec<_> = listing(&dest).into_iter().filter(|e| !e.starts_with(".git")).collect();
    assert_eq!(files, ["a", "run*"]);
}

#[test]
fn exports_refuse_unknown_pins_and_folders_in_use() {
    let fixture = Fixture::new();
    let repo = fixture.git_project("qt/qtbase");
    repo.write("a", "a");
    repo.commit("first");
    write(&fixture.plain_project("qt/qtsvg").join("a"), "a");
    let sources = fixture.sources();
    type Export = fn(&SourcesDir, &Pin, &Path) -> Result<(), SourceError>;
    let exports: [(&str, Export); 2] =
        [("export", SourcesDir::export), ("export_clone", SourcesDir::export_clone)];

    for (name, export) in exports {
        let dest = fixture.outside().join(name);
        let missing = pin("qt/qtnothing", "main");
        let expected = Err(SourceError::UnknownProject(project("qt/qtnothing")));
        assert_eq!(export(&sources, &missing, &dest), expected, "{name}");
        let unknown = pin("qt/qtbase", "no-such-branch");
        let expected = Err(SourceError::UnknownRevision(unknown.clone()));
        assert_eq!(export(&sources, &unknown, &dest), expected, "{name}");
        assert!(!dest.exists(), "{name}: the pin is checked before `dest` is made");

        for project in ["qt/qtbase", "qt/qtsvg"] {
            write(&dest.join("left over"), "mine");
            let error = export(&sources, &pin(project, "main"), &dest).unwrap_err();
            let SourceError::Unavailable(message) = &error else { panic!("{error:?}") };
            assert!(message.contains("not empty"), "{name} {project}: {message}");
            assert!(message.contains(&dest.display().to_string()), "{message}");
            assert_eq!(listing(&dest), ["left over"], "{name} {project}: untouched");

            fs::remove_file(dest.join("left over")).unwrap();
            export(&sources, &pin(project, "main"), &dest).unwrap();
            assert_eq!(read_text(&dest.join("a")), "a", "{name} {project}: an empty `dest`");
            fs::remove_dir_all(&dest).unwrap();
        }

        write(&dest, "a file");
        let error = export(&sources, &pin("qt/qtbase", "main"), &dest).unwrap_err();
        assert!(matches!(&error, SourceError::Unavailable(m) if m.contains(name)), "{error}");
        fs::remove_file(&dest).unwrap();
    }
}
