//! Hand-made malicious archives: each is refused, names the entry, blames the archive (not the
//! system), and writes nothing outside the destination.
//!
//! The targets "outside" are inside the test's temporary folder, next to the destination, so
//! that a broken check would show up as a changed folder rather than as a file in `/etc`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use tar::{Builder, EntryType, Header};
use tollgate_store::{ArchiveError, unpack};

/// One raw tar entry. Names and targets are written into the header as they are: the tar
/// crate's own checks (`set_path` refuses `..` and absolute paths) are bypassed.
enum Raw<'a> {
    File(&'a str, &'a str),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Fifo(&'a str),
    CharDevice(&'a str),
    /// A PAX `path` record that overrides the name in the next header.
    PaxPath(&'a str),
    /// A GNU long-name entry (`L`) that overrides the name in the next header.
    LongName(&'a str),
    /// A GNU long-link entry (`K`) that overrides the link target in the next header.
    LongLink(&'a str),
}

fn header(kind: EntryType, name: &str, size: u64) -> Header {
    let mut header = Header::new_gnu();
    let bytes = name.as_bytes();
    assert!(bytes.len() < 100, "a raw name must fit the header: {name}");
    header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(if kind == EntryType::Directory { 0o755 } else { 0o644 });
    header
}

fn archive(entries: &[Raw]) -> Vec<u8> {
    let mut builder = Builder::new(Vec::new());
    let mut append = |mut header: Header, data: &[u8]| {
        header.set_cksum();
        builder.append(&header, data).unwrap();
    };
    for entry in entries {
        match *entry {
            Raw::File(name, content) => {
                append(header(EntryType::Regular, name, content.len() as u64), content.as_bytes())
            }
            Raw::Dir(name) => append(header(EntryType::Directory, name, 0), b""),
            Raw::Symlink(name, target) | Raw::HardLink(name, target) => {
                let kind = match entry {
                    Raw::Symlink(..) => EntryType::Symlink,
                    _ => EntryType::Link,
                };
                let mut header = header(kind, name, 0);
                header.set_link_name_literal(target).unwrap();
                append(header, b"");
            }
            Raw::Fifo(name) => append(header(EntryType::Fifo, name, 0), b""),
            Raw::CharDevice(name) => {
                let mut header = header(EntryType::Char, name, 0);
                header.set_device_major(1).unwrap();
                header.set_device_minor(3).unwrap();
                append(header, b"");
            }
            Raw::PaxPath(path) => {
                let record = pax_record("path", path);
                append(header(EntryType::XHeader, "pax", record.len() as u64), &record);
            }
            Raw::LongName(name) | Raw::LongLink(name) => {
                let kind = match entry {
                    Raw::LongName(_) => EntryType::GNULongName,
                    _ => EntryType::GNULongLink,
                };
                let data = format!("{name}\0");
                append(header(kind, "././@LongLink", data.len() as u64), data.as_bytes());
            }
        }
    }
    builder.into_inner().unwrap()
}

/// `<length> <key>=<value>\n`, where the length counts the whole record, itself included.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut length = body.len() + 1;
    while format!("{length}{body}").len() != length {
        length += 1;
    }
    format!("{length}{body}").into_bytes()
}

/// A test's folder: the destination `dest/`, and around it what must stay untouched.
struct Scene {
    tmp: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let scene = Scene { tmp: tempfile::tempdir().unwrap() };
        fs::create_dir_all(scene.outside("victim")).unwrap();
        fs::write(scene.outside("victim-file"), "precious").unwrap();
        scene
    }

    fn outside(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn dest(&self) -> PathBuf {
        self.tmp.path().join("dest")
    }

    /// Everything in the test's folder except the destination: names, link targets, contents.
    fn surroundings(&self) -> BTreeMap<PathBuf, String> {
        let mut found = BTreeMap::new();
        let mut folders = vec![self.tmp.path().to_path_buf()];
        while let Some(folder) = folders.pop() {
            for entry in fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path == self.dest() || path.starts_with(self.tmp.path().join("archives")) {
                    continue;
                }
                let metadata = fs::symlink_metadata(&path).unwrap();
                let seen = if metadata.file_type().is_symlink() {
                    format!("-> {}", fs::read_link(&path).unwrap().display())
                } else if metadata.is_dir() {
                    folders.push(path.clone());
                    "folder".to_owned()
                } else {
                    String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned()
                };
                found.insert(path, seen);
            }
        }
        found
    }

    fn unpack(&self, name: &str, entries: &[Raw]) -> Result<(), ArchiveError> {
        let archives = self.outside("archives");
        fs::create_dir_all(&archives).unwrap();
        let path = archives.join(name);
        fs::write(&path, zstd::encode_all(archive(entries).as_slice(), 3).unwrap()).unwrap();
        unpack(&path, &self.dest())
    }

    /// Unpacks and expects a refusal of `entry` whose reason contains `reason`, with nothing
    /// changed outside the destination.
    fn refuses(&self, case: &str, entries: &[Raw], entry: &str, reason: &str) {
        let before = self.surroundings();
        let error = self.unpack(case, entries).expect_err(case);
        match &error {
            ArchiveError::Unsafe { entry: refused, reason: why } => {
                assert_eq!(refused, entry, "{case}: {error}");
                assert!(why.contains(reason), "{case}: {error}");
            }
            other => panic!("{case}: expected Unsafe, got {other:?}"),
        }
        assert!(!error.is_system(), "{case}");
        assert_eq!(self.surroundings(), before, "{case}: something was written outside");
    }

    fn exists_in_dest(&self, path: &str) -> bool {
        fs::symlink_metadata(self.dest().join(path)).is_ok()
    }
}

#[test]
fn absolute_paths_are_refused() {
    let scene = Scene::new();
    let target = scene.outside("absolute").display().to_string();
    scene.refuses("absolute", &[Raw::File(&target, "planted")], &target, "absolute path");
    assert!(!scene.outside("absolute").exists());
}

#[test]
fn parent_components_are_refused_before_anything_is_written() {
    let scene = Scene::new();
    scene.refuses("dotdot", &[Raw::File("../escaped", "planted")], "../escaped", "`..`");
    scene.refuses(
        "dotdot-inside",
        &[Raw::File("a/../../escaped", "planted")],
        "a/../../escaped",
        "`..`",
    );
    assert!(!scene.exists_in_dest("a"), "the folder before `..` was not made either");
    // Even `..` that would land inside is refused: a path means one place.
    scene.refuses("harmless-dotdot", &[Raw::File("a/../b", "x")], "a/../b", "`..`");
}

#[test]
fn a_symlink_out_of_the_destination_is_refused() {
    let scene = Scene::new();
    scene.refuses("etc", &[Raw::Symlink("etc", "/etc")], "etc", "absolute target");
    scene.refuses("climb", &[Raw::Symlink("l", "../..")], "l", "climbs out");
    scene.refuses(
        "climb-from-deep",
        &[Raw::Dir("a"), Raw::Dir("a/b"), Raw::Symlink("a/b/l", "../../../victim")],
        "a/b/l",
        "climbs out",
    );
    assert!(!scene.exists_in_dest("etc"));
    assert!(!scene.exists_in_dest("l"));
    assert!(!scene.exists_in_dest("a/b/l"));
}

#[test]
fn a_file_through_a_symlink_out_is_refused_at_the_link() {
    let scene = Scene::new();
    let victim = scene.outside("victim").display().to_string();
    scene.refuses(
        "link-then-file",
        &[Raw::Symlink("l", &victim), Raw::File("l/planted", "planted")],
        "l",
        "absolute target",
    );
    assert!(!scene.outside("victim/planted").exists());
}

#[test]
fn symlinks_that_climb_out_through_other_links_are_refused_and_removed() {
    for (case, entries) in [
        ("link-first", [Raw::Symlink("d", "."), Raw::Symlink("e", "d/..")]),
        ("link-last", [Raw::Symlink("e", "d/.."), Raw::Symlink("d", ".")]),
    ] {
        let scene = Scene::new();
        scene.refuses(case, &entries, "e", "through other links");
        assert!(!scene.exists_in_dest("e"), "{case}: the escaping link is not left behind");
    }
}

#[test]
fn nothing_is_written_through_a_symlink_even_one_pointing_inside() {
    let scene = Scene::new();
    scene.refuses(
        "through-inner-link",
        &[Raw::Dir("sub"), Raw::Symlink("l", "sub"), Raw::File("l/x", "x")],
        "l/x",
        "is a symlink",
    );
    assert!(!scene.exists_in_dest("sub/x"));
}

#[test]
fn a_symlink_already_in_the_destination_is_not_written_through() {
    let scene = Scene::new();
    fs::create_dir_all(scene.dest()).unwrap();
    symlink(scene.outside("victim"), scene.dest().join("lib")).unwrap();
    scene.refuses("pre-existing-link", &[Raw::File("lib/planted", "x")], "lib/planted", "symlink");
    assert!(!scene.outside("victim/planted").exists());
}

#[test]
fn a_file_replaces_a_link_at_its_name_instead_of_writing_through_it() {
    let scene = Scene::new();
    fs::create_dir_all(scene.dest()).unwrap();
    symlink(scene.outside("victim-file"), scene.dest().join("config")).unwrap();
    let before = scene.surroundings();

    scene.unpack("replace-link", &[Raw::File("config", "new")]).unwrap();

    assert_eq!(fs::read_to_string(scene.outside("victim-file")).unwrap(), "precious");
    assert_eq!(fs::read_to_string(scene.dest().join("config")).unwrap(), "new");
    assert!(!fs::symlink_metadata(scene.dest().join("config")).unwrap().file_type().is_symlink());
    assert_eq!(scene.surroundings(), before);
}

#[test]
fn hard_links_outside_are_refused() {
    let scene = Scene::new();
    scene.refuses(
        "passwd",
        &[Raw::HardLink("passwd", "/etc/passwd")],
        "passwd",
        "hard link to `/etc/passwd`: an absolute path",
    );
    scene.refuses(
        "climb",
        &[Raw::HardLink("h", "../victim-file")],
        "h",
        "hard link to `../victim-file`: a `..`",
    );
    // A file already in the destination, not from this archive, may itself be a link out.
    fs::create_dir_all(scene.dest()).unwrap();
    fs::write(scene.dest().join("old"), "old").unwrap();
    scene.refuses("not-ours", &[Raw::HardLink("h", "old")], "h", "not a file unpacked");
    assert!(!scene.exists_in_dest("passwd"));
    assert!(!scene.exists_in_dest("h"));
}

#[test]
fn devices_and_fifos_are_refused() {
    let scene = Scene::new();
    scene.refuses("fifo", &[Raw::Fifo("pipe")], "pipe", "fifo");
    scene.refuses("char", &[Raw::CharDevice("null")], "null", "devices");
    assert!(!scene.exists_in_dest("pipe"));
    assert!(!scene.exists_in_dest("null"));
}

#[test]
fn names_from_pax_and_gnu_extensions_are_checked_too() {
    let scene = Scene::new();
    scene.refuses(
        "pax",
        &[Raw::PaxPath("../pax-escaped"), Raw::File("innocent", "planted")],
        "../pax-escaped",
        "`..`",
    );
    assert!(!scene.exists_in_dest("innocent"));
    let long = format!("{}../../../../long-escaped", "a/".repeat(60));
    scene.refuses(
        "gnu-long-name",
        &[Raw::LongName(&long), Raw::File("innocent", "planted")],
        &long,
        "`..`",
    );
    let long_target = format!("/{}", "etc/".repeat(30));
    scene.refuses(
        "gnu-long-link",
        &[Raw::LongLink(&long_target), Raw::Symlink("l", "innocent")],
        "l",
        "absolute target",
    );
}

#[test]
fn links_that_stay_inside_are_unpacked() {
    let scene = Scene::new();
    scene
        .unpack(
            "inside",
            &[
                Raw::Dir("./lib/"),
                Raw::File("./lib/libgreet.so.1", "elf"),
                Raw::Symlink("./lib/libgreet.so", "libgreet.so.1"),
                Raw::HardLink("./lib/libgreet-copy.so", "lib/libgreet.so.1"),
                Raw::Dir("a"),
                Raw::Dir("a/b"),
                Raw::Symlink("a/b/up", "../../lib/./libgreet.so"),
                Raw::Symlink("dot", "."),
                Raw::Symlink("via-dot", "dot/lib"),
            ],
        )
        .unwrap();
    for path in ["lib/libgreet.so", "lib/libgreet-copy.so", "a/b/up", "via-dot/libgreet.so.1"] {
        assert_eq!(fs::read_to_string(scene.dest().join(path)).unwrap(), "elf", "{path}");
    }
}

#[test]
fn a_folder_is_never_replaced() {
    let scene = Scene::new();
    scene.refuses(
        "file-over-folder",
        &[Raw::Dir("d"), Raw::File("d/inner", "x"), Raw::File("d", "x")],
        "d",
        "replace a folder",
    );
    assert_eq!(fs::read_to_string(scene.dest().join("d/inner")).unwrap(), "x");
}
