//! Packing real folders and unpacking them elsewhere: what comes out is what went in.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use tollgate_store::{ArchiveError, pack, unpack};

/// Every entry under `dir`, sorted: folders, files with their executable bit and content, and
/// symlinks with their target. Two folders with the same description hold the same tree.
fn describe(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    describe_into(dir, Path::new(""), &mut lines);
    lines.sort();
    lines
}

fn describe_into(root: &Path, relative: &Path, lines: &mut Vec<String>) {
    let mut names: Vec<_> =
        fs::read_dir(root.join(relative)).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    for name in names {
        let path = relative.join(name);
        let full = root.join(&path);
        let metadata = fs::symlink_metadata(&full).unwrap();
        let shown = path.display();
        if metadata.file_type().is_symlink() {
            lines.push(format!("{shown} -> {}", fs::read_link(&full).unwrap().display()));
        } else if metadata.is_dir() {
            lines.push(format!("{shown}/"));
            describe_into(root, &path, lines);
        } else {
            let exec = if metadata.permissions().mode() & 0o100 != 0 { "exec" } else { "plain" };
            let content = blake3::hash(&fs::read(&full).unwrap()).to_hex();
            lines.push(format!("{shown} {exec} {} bytes {}", metadata.len(), &content[..16]));
        }
    }
}

fn write(path: &Path, content: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// An install tree like a module's: nested folders, an executable, an empty file, an empty
/// folder, symlinks inside the tree (a library alias, one climbing up, one dangling), a name and a
/// link target longer than tar's 100-byte fields, and a file larger than any buffer.
fn install_tree(dir: &Path) {
    write(&dir.join("bin/greet"), "#!/bin/sh\necho hello\n");
    set_mode(&dir.join("bin/greet"), 0o755);
    write(&dir.join("include/greet/greet.h"), "void greet(void);\n");
    write(&dir.join("lib/libgreet.so.1"), b"\x7fELF not really".as_slice());
    symlink("libgreet.so.1", dir.join("lib/libgreet.so")).unwrap();
    write(&dir.join("share/greet/empty"), "");
    fs::create_dir_all(dir.join("share/greet/empty-folder")).unwrap();
    symlink("../../bin/greet", dir.join("share/greet/greet-link")).unwrap();
    symlink("not-built-yet", dir.join("share/greet/dangling")).unwrap();
    let long = format!("share/{}/{}", "deep".repeat(20), "file-with-a-long-name".repeat(4));
    write(&dir.join(&long), "long");
    symlink(format!("../{}", long.trim_start_matches("share/")), dir.join("share/long-link"))
        .unwrap();
    let large: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(&dir.join("lib/large.a"), large);
}

#[test]
fn a_packed_tree_unpacks_elsewhere_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("install");
    install_tree(&source);
    let archive = tmp.path().join("artifacts.tar.gz");

    pack(&source, &archive, &BTreeSet::new()).unwrap();
    let dest = tmp.path().join("elsewhere/install");
    unpack(&archive, &dest).unwrap();

    assert_eq!(describe(&dest), describe(&source));
    assert!(describe(&dest).contains(&"lib/libgreet.so -> libgreet.so.1".to_owned()));
    assert!(describe(&dest).iter().any(|line| line.starts_with("bin/greet exec ")));
    assert!(describe(&dest).iter().any(|line| line.starts_with("share/greet/empty plain 0 ")));
    // The executable runs, and the link resolves to it.
    let output = Command::new(dest.join("share/greet/greet-link")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\n");
    // Only the archive was written next to the folder: no temporary file is left.
    let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn the_same_tree_packs_to_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("install");
    install_tree(&source);
    pack(&source, &tmp.path().join("first"), &BTreeSet::new()).unwrap();

    // Times, owners' umask and a group-write bit are not part of the tree.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(source.join("bin/greet"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    set_mode(&source.join("include/greet/greet.h"), 0o664);
    pack(&source, &tmp.path().join("second"), &BTreeSet::new()).unwrap();

    assert_eq!(
        fs::read(tmp.path().join("first")).unwrap(),
        fs::read(tmp.path().join("second")).unwrap()
    );
}

#[test]
fn excluded_paths_are_left_out_and_new_files_in_an_excluded_folder_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("build");
    write(&source.join("old.txt"), "listed before");
    write(&source.join("doc/old.html"), "listed before");
    write(&source.join("doc/new.html"), "generated");
    write(&source.join("new.txt"), "generated");
    let exclude: BTreeSet<PathBuf> =
        ["old.txt", "doc", "doc/old.html"].into_iter().map(PathBuf::from).collect();

    pack(&source, &tmp.path().join("docs.tar.gz"), &exclude).unwrap();
    let dest = tmp.path().join("out");
    unpack(&tmp.path().join("docs.tar.gz"), &dest).unwrap();

    let listed: Vec<_> = describe(&dest)
        .into_iter()
        .map(|line| line.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ["doc/", "doc/new.html", "new.txt"]);
}

#[test]
fn an_archive_written_inside_the_folder_it_packs_leaves_itself_out() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("work");
    write(&source.join("a.txt"), "a");
    let archive = source.join("out/work.tar.gz");
    fs::create_dir_all(archive.parent().unwrap()).unwrap();

    pack(&source, &archive, &BTreeSet::new()).unwrap();
    let dest = tmp.path().join("dest");
    unpack(&archive, &dest).unwrap();

    assert_eq!(describe(&dest).len(), 2, "{:?}", describe(&dest));
    assert!(describe(&dest)[0].starts_with("a.txt plain 1 bytes"));
    assert_eq!(describe(&dest)[1], "out/");
}

#[test]
fn packing_a_missing_folder_is_the_changes_failure_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("artifacts.tar.gz");

    let error = pack(&tmp.path().join("install"), &archive, &BTreeSet::new()).unwrap_err();

    assert!(matches!(error, ArchiveError::MissingDir { .. }), "{error:?}");
    assert!(!error.is_system());
    assert!(error.to_string().contains("install"), "{error}");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn unpacking_into_an_existing_folder_adds_to_it_and_replaces_files() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("first");
    write(&first.join("lib/libone.so"), "one");
    write(&first.join("shared.txt"), "from first");
    let second = tmp.path().join("second");
    write(&second.join("lib/libtwo.so"), "two");
    write(&second.join("shared.txt"), "from second");
    pack(&first, &tmp.path().join("first.tar"), &BTreeSet::new()).unwrap();
    pack(&second, &tmp.path().join("second.tar"), &BTreeSet::new()).unwrap();

    let install = tmp.path().join("install");
    unpack(&tmp.path().join("first.tar"), &install).unwrap();
    unpack(&tmp.path().join("second.tar"), &install).unwrap();

    assert_eq!(fs::read_to_string(install.join("lib/libone.so")).unwrap(), "one");
    assert_eq!(fs::read_to_string(install.join("lib/libtwo.so")).unwrap(), "two");
    assert_eq!(fs::read_to_string(install.join("shared.txt")).unwrap(), "from second");
}

fn packed_tree(tmp: &Path) -> Vec<u8> {
    let source = tmp.join("install");
    install_tree(&source);
    pack(&source, &tmp.join("good"), &BTreeSet::new()).unwrap();
    fs::read(tmp.join("good")).unwrap()
}

fn assert_corrupt(archive: &Path, dest: &Path) {
    let error = unpack(archive, dest).unwrap_err();
    assert!(matches!(error, ArchiveError::Corrupt { .. }), "{error:?}");
    assert!(!error.is_system(), "{error:?}");
}

#[test]
fn a_truncated_archive_is_corrupt_wherever_it_is_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let good = packed_tree(tmp.path());
    let cuts = [0, 1, 4, 100, good.len() / 3, good.len() / 2, good.len() - 100, good.len() - 1];
    for cut in cuts {
        let archive = tmp.path().join(format!("cut-{cut}"));
        fs::write(&archive, &good[..cut]).unwrap();
        assert_corrupt(&archive, &tmp.path().join(format!("dest-{cut}")));
    }
}

#[test]
fn a_damaged_or_foreign_archive_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let good = packed_tree(tmp.path());

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    fs::write(tmp.path().join("flipped"), &flipped).unwrap();
    assert_corrupt(&tmp.path().join("flipped"), &tmp.path().join("dest-flipped"));

    let mut trailing = good.clone();
    trailing.extend_from_slice(b"appended");
    fs::write(tmp.path().join("trailing"), &trailing).unwrap();
    assert_corrupt(&tmp.path().join("trailing"), &tmp.path().join("dest-trailing"));

    // A gzip tarball, as Coin's own archives are: the name says .tar.gz, the store says no.
    fs::write(tmp.path().join("gzip"), b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03").unwrap();
    assert_corrupt(&tmp.path().join("gzip"), &tmp.path().join("dest-gzip"));
}

#[test]
fn a_missing_archive_is_a_system_error() {
    let tmp = tempfile::tempdir().unwrap();
    let error = unpack(&tmp.path().join("nothing.tar.gz"), &tmp.path().join("dest")).unwrap_err();
    assert!(matches!(error, ArchiveError::Io { .. }), "{error:?}");
    assert!(error.is_system());
    assert!(error.to_string().contains("nothing.tar.gz"), "{error}");
}
