use std::fs;

use super::*;
use crate::test_git;

/// [`test_git::git`] without input.
fn git(dir: &Path, args: &[&str], input: &str) -> String {
    test_git::git(dir, args, input.as_bytes())
}

/// A repository holding one blob and its tree.
fn repository_with_blob(dir: &Path, content: &str) -> (String, String) {
    git(dir, &["init", "-q"], "");
    let blob = git(dir, &["hash-object", "-w", "--stdin"], content);
    let tree = git(dir, &["mktree"], &format!("100644 blob {blob}\tfile\n"));
    (blob, tree)
}

/// The process the next read will use.
fn process_id(reader: &ObjectReader) -> Option<u32> {
    reader.idle().last().map(|process| process.child.id())
}

#[test]
fn a_dead_batch_process_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let (blob, _) = repository_with_blob(dir.path(), "content\n");
    let reader = ObjectReader::new(dir.path().to_owned());
    assert_eq!(reader.read_blob(&blob).unwrap().as_deref(), Some(&b"content\n"[..]));

    let first = {
        let mut idle = reader.idle();
        let process = idle.last_mut().expect("started by the first read");
        process.child.kill().unwrap();
        process.child.wait().unwrap();
        process.child.id()
    };
    assert_eq!(reader.read_blob(&blob).unwrap().as_deref(), Some(&b"content\n"[..]));
    assert_ne!(process_id(&reader), Some(first), "a new process serves the read");
}

#[test]
fn only_blobs_are_read_as_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let (blob, tree) = repository_with_blob(dir.path(), "x");
    let reader = ObjectReader::new(dir.path().to_owned());
    assert_eq!(reader.read_blob(&tree).unwrap(), None, "a tree");
    assert_eq!(reader.read_blob(&format!("{tree}:file")).unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(reader.read_blob(&format!("{tree}:nothing")).unwrap(), None);
    assert_eq!(reader.read_blob(&"0".repeat(blob.len())).unwrap(), None, "missing id");

    let (kind, content) = reader.read(&tree).unwrap().expect("a tree");
    assert_eq!(kind, "tree");
    assert!(content.starts_with(b"100644 file\0"), "{content:?}");
}

#[test]
fn info_names_the_object_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let (blob, tree) = repository_with_blob(dir.path(), "x");
    let reader = ObjectReader::new(dir.path().to_owned());
    let info = |name: &str| reader.info(name).unwrap();
    assert_eq!(info(&tree), Some((tree.clone(), "tree".to_owned())));
    assert_eq!(info(&format!("{tree}:file")), Some((blob.clone(), "blob".to_owned())));
    assert_eq!(info(&blob[..8]), Some((blob.clone(), "blob".to_owned())), "abbreviated");
    assert_eq!(info(&format!("{tree}:nothing")), None);
    assert_eq!(info(&format!(" {tree}")), None, "the whole line is the name");
    assert_eq!(info("HEAD"), None, "an unborn branch");
    assert_eq!(info(&format!("{blob}^{{tree}}")), None, "a blob does not peel to a tree");
    assert_eq!(reader.read(&blob).unwrap(), Some(("blob".to_owned(), b"x".to_vec())));

    for unsendable in [format!("{tree}\n"), format!("{tree}\r"), format!("{tree}\0")] {
        let error = reader.info(&unsendable).unwrap_err();
        assert!(matches!(error, GitError::Invalid { .. }), "{error:?}");
    }
    assert_eq!(info(&tree).map(|(_, kind)| kind).as_deref(), Some("tree"), "still in step");
}

#[test]
fn many_reads_are_pipelined_and_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (blob, tree) = repository_with_blob(dir.path(), "x");
    // Large blobs fill git's output pipe while requests still wait in its input.
    let large: Vec<_> = (0..40u8)
        .map(|i| git(dir.path(), &["hash-object", "-w", "--stdin"], &format!("{i}").repeat(70_000)))
        .collect();
    let long_path = format!("{tree}:{}", "d/".repeat(3000));
    let missing = "0".repeat(blob.len());
    let mut names: Vec<&str> = Vec::new();
    for (i, id) in large.iter().enumerate() {
        names.extend([id.as_str(), &blob, &missing]);
        if i % 10 == 0 {
            names.push(&long_path);
        }
    }
    let reader = ObjectReader::new(dir.path().to_owned());
    let answers = reader.read_many(&names).unwrap();
    assert_eq!(answers.len(), names.len());
    for (name, answer) in names.iter().zip(&answers) {
        let expected = match *name {
            name if name == blob => Some(b"x".to_vec()),
            name if name == missing || name == long_path => None,
            name => {
                let i = large.iter().position(|id| id == name).unwrap();
                Some(format!("{i}").repeat(70_000).into_bytes())
            }
        };
        let content = answer.as_ref().map(|(_, content)| content.clone());
        assert!(content == expected, "{name}");
    }
    assert_eq!(reader.read_blob(&blob).unwrap().as_deref(), Some(&b"x"[..]), "still in step");
    assert!(reader.read_many(&[&blob, "a\nb"]).is_err(), "refused before anything is sent");
    assert_eq!(reader.read_many(&[]).unwrap(), []);
}

#[test]
fn a_read_during_another_gets_a_process_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (blob, tree) = repository_with_blob(dir.path(), "x");
    let reader = ObjectReader::new(dir.path().to_owned());
    let mut inner = Vec::new();
    reader
        .read_each(&[&blob, &tree], |_, _| {
            inner.push(reader.info(&tree).unwrap().map(|(_, kind)| kind));
            Ok(())
        })
        .unwrap();
    assert_eq!(inner, [Some("tree".to_owned()), Some("tree".to_owned())]);
    assert_eq!(reader.idle().len(), 2, "both kept for the next reads");

    let error = reader.read_each(&[&blob, &tree], |_, _| {
        Err(GitError::Invalid { what: "test", name: String::new() })
    });
    assert!(matches!(error, Err(GitError::Invalid { what: "test", .. })), "{error:?}");
    assert_eq!(reader.idle().len(), 1, "a process left out of step is not kept");
    assert_eq!(reader.read_blob(&blob).unwrap().as_deref(), Some(&b"x"[..]));
}

/// Refs and objects change under the long-lived process: refs moved by other processes, new
/// loose objects, packs fetched or rewritten. The same process must see them all.
#[test]
fn freshness() {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    fs::create_dir(&repo).unwrap();
    let in_repo = |args: &[&str]| git(&repo, args, "");
    in_repo(&["init", "-q", "-b", "main"]);
    in_repo(&["commit", "-q", "--allow-empty", "-m", "first"]);
    let first = in_repo(&["rev-parse", "HEAD"]);
    let reader = ObjectReader::new(repo.clone());
    let commit = |name: &str| reader.info(&format!("{name}^{{commit}}")).unwrap().map(|a| a.0);
    assert_eq!(commit("main"), Some(first.clone()));
    let process = process_id(&reader).expect("started");

    // (b) a new loose commit, and the branch moved to it by `git commit`.
    in_repo(&["commit", "-q", "--allow-empty", "-m", "second"]);
    let second = in_repo(&["rev-parse", "HEAD"]);
    assert_eq!(commit("main"), Some(second.clone()), "a new loose commit");
    assert_eq!(commit(&second[..12]), Some(second.clone()), "abbreviated");

    // (a) the ref moved by another process, loose and then packed.
    in_repo(&["update-ref", "refs/heads/main", &first]);
    assert_eq!(commit("main"), Some(first.clone()), "a loose ref moved back");
    in_repo(&["pack-refs", "--all"]);
    in_repo(&["update-ref", "refs/heads/other", &second]);
    in_repo(&["pack-refs", "--all"]);
    assert_eq!(commit("other"), Some(second.clone()), "a ref new in packed-refs");

    // (c) a commit that arrives in a new pack, asked for before it exists.
    let upstream = root.path().join("upstream");
    git(root.path(), &["clone", "-q", repo.to_str().unwrap(), upstream.to_str().unwrap()], "");
    git(&upstream, &["commit", "-q", "--allow-empty", "-m", "third"], "");
    let third = git(&upstream, &["rev-parse", "HEAD"], "");
    assert_eq!(commit(&third), None, "not fetched yet");
    let fetch = ["-c", "transfer.unpackLimit=1", "fetch", "-q", upstream.to_str().unwrap()];
    in_repo(&[&fetch[..], &["main:refs/heads/fetched"]].concat());
    let packs = fs::read_dir(repo.join(".git/objects/pack")).unwrap().count();
    assert!(packs > 0, "the fetch kept a pack");
    assert_eq!(commit("fetched"), Some(third.clone()), "a fetched pack");
    assert_eq!(commit(&third), Some(third.clone()));

    // Everything rewritten into one new pack; the old packs and loose objects removed.
    git(&upstream, &["commit", "-q", "--allow-empty", "-m", "fourth"], "");
    let fourth = git(&upstream, &["rev-parse", "HEAD"], "");
    in_repo(&[&fetch[..], &["main:refs/heads/fetched"]].concat());
    in_repo(&["repack", "-a", "-d", "-q", "--write-midx"]);
    in_repo(&["prune-packed"]);
    assert_eq!(commit("fetched"), Some(fourth.clone()), "after a repack");
    for id in [&first, &second, &third] {
        assert_eq!(commit(id).as_ref(), Some(id), "read from the new pack");
    }
    assert_eq!(process_id(&reader), Some(process), "one process answered everything");
}
