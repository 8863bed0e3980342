use std::path::Path;

use super::*;
use crate::cat_file::ObjectReader;
use crate::test_git::{git, stdout};

/// What git says of `commit`, to compare with what [`parse`] reads from its raw object.
fn as_git_reads_it(repo: &Path, commit: &str) -> CommitInfo {
    let format = ["rev-list", "-1", "--no-commit-header", "--format=%an%x00%s", commit];
    let printed = stdout(repo, &format, b"");
    let printed = printed.strip_suffix(b"\n").expect("a line");
    let (author, subject) = printed.split_at(printed.iter().position(|&b| b == 0).unwrap());
    let listed = git(repo, &["rev-list", "-1", "--parents", commit], b"");
    let tree = git(repo, &["rev-parse", &format!("{commit}^{{tree}}")], b"");
    CommitInfo {
        tree: TreeOid::parse(&tree).unwrap(),
        parents: listed.split(' ').skip(1).map(|id| CommitId::parse(id).unwrap()).collect(),
        author: lossy(author),
        subject: lossy(&subject[1..]),
    }
}

/// A commit object written as is, even what fsck would refuse.
fn hash_commit(repo: &Path, raw: &[u8]) -> String {
    git(repo, &["hash-object", "-t", "commit", "-w", "--stdin", "--literally"], raw)
}

#[test]
fn reads_commits_as_git_log_does() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"], b"");
    let blob = git(repo, &["hash-object", "-w", "--stdin"], b"content\n");
    let tree = git(repo, &["mktree"], format!("100644 blob {blob}\tfile\n").as_bytes());
    let empty_tree = git(repo, &["mktree"], b"");
    let commit_tree = |tree: &str, parents: &[&str], message: &str| {
        let mut args = vec!["commit-tree", tree];
        for parent in parents {
            args.extend(["-p", parent]);
        }
        git(repo, &args, message.as_bytes())
    };

    let root = commit_tree(&tree, &[], "\n\n  \t\n  Subject one  \t\r\n\tand two\n\nThe body.\n");
    let side = commit_tree(&empty_tree, &[], "side\n");
    let merge = commit_tree(&tree, &[&root, &side], "Merge\nmore subject\n   \nbody\n");
    let crlf = commit_tree(&tree, &[&merge], "Windows\r\nsubject\r\n\r\nbody\r\n");
    let signed = format!(
        "tree {tree}\nparent {root}\nauthor  Odd  Name \t<a@example.invalid> 1 +0000\n\
         committer C <c@example.invalid> 2 +0000\nencoding ISO-8859-1\n\
         mergetag object {side}\n type commit\n tag v1\n tagger T <t@t> 3 +0000\n \n tag\n\
         gpgsig -----BEGIN PGP SIGNATURE-----\n \n author Fake <f@f> 4 +0000\n \
         -----END PGP SIGNATURE-----\n\nSigned\n subject\n\nbody\n"
    );
    let signed = hash_commit(repo, signed.as_bytes());
    let committer = "committer C <c@c> 1 +0000";
    let crafted = [
        format!("tree {tree}\nauthor A <a@a> 1 +0000\n{committer}\n\nNUL in\0 the subject\n"),
        format!("tree {tree}\nauthor No Mail 1 +0000\n{committer}\n\nsubject\n"),
        format!("tree {tree}\nauthor <a@a> 1 +0000\n{committer}\n\nno name\n"),
        format!("tree {tree}\nauthor A <a@a> 1 +0000\n{committer}\n"),
        format!("tree {tree}\nauthor A <a@a> 1 +0000\n{committer}\n\n \n\t\n"),
        format!("tree {tree}\nauthor Ünï cödé <a@a> 1 +0000\n{committer}\n\nÜ\u{c}\n"),
    ];
    let crafted = crafted.map(|raw| hash_commit(repo, raw.as_bytes()));

    let reader = ObjectReader::new(repo.to_owned());
    for commit in [&root, &side, &merge, &crlf, &signed].into_iter().chain(&crafted) {
        let (kind, raw) = reader.read(commit).unwrap().unwrap();
        assert_eq!(kind, "commit");
        let expected = as_git_reads_it(repo, commit);
        assert_eq!(parse(&raw).as_ref(), Some(&expected), "{}", String::from_utf8_lossy(&raw));
    }

    let info = |commit: &str| parse(&reader.read(commit).unwrap().unwrap().1).unwrap();
    assert_eq!(info(&root).subject, "  Subject one \tand two", "the subject, for the record");
    assert_eq!(info(&signed).author, " Odd  Name");
    assert_eq!(info(&signed).subject, "Signed  subject");
    let parents: Vec<_> = info(&merge).parents.iter().map(|p| p.to_string()).collect();
    assert_eq!(parents, [root, side], "in order");
}

#[test]
fn a_commit_without_a_tree_and_parents_first_is_refused() {
    let tree = "0123456789abcdef0123456789abcdef01234567";
    let long = "a".repeat(64);
    assert!(parse(format!("tree {tree}\n\nsubject\n").as_bytes()).is_some());
    assert!(parse(format!("author A <a@a> 1 +0000\ntree {tree}\n\n").as_bytes()).is_none());
    assert!(parse(format!("tree {}\n\n", &tree[..39]).as_bytes()).is_none());
    assert!(parse(format!("tree {tree}\nparent xyz\n\n").as_bytes()).is_none());
    assert!(parse(format!("tree {tree}\nparent {long}\n\n").as_bytes()).is_none());
    assert!(parse(b"").is_none());
}
