//! Ref names checked in-process, by the rules of `git check-ref-format <refname>`, so that
//! validating a name costs no git process. A test compares the answers with git's own on a
//! table of tricky names, so the two cannot drift apart unnoticed.

/// Whether git accepts `name` as a ref name: what `git check-ref-format <name>` answers,
/// without `--allow-onelevel`, `--refspec-pattern` or `--normalize`. The rules are on bytes;
/// anything from 0x80 up, so any non-ASCII character, is allowed.
pub(crate) fn is_valid_ref_name(name: &str) -> bool {
    /// Rules 4, 5 and 10: characters with a meaning in revisions, refspecs or globs.
    const FORBIDDEN: &[u8] = b" ~^:?*[\\";
    name != "@"
        && name.contains('/')
        && !name.contains("..")
        && !name.contains("@{")
        && !name.ends_with('.')
        && !name.bytes().any(|b| b < 0x20 || b == 0x7f || FORBIDDEN.contains(&b))
        // An empty component is a leading, trailing or doubled slash.
        && name.split('/').all(|c| !c.is_empty() && !c.starts_with('.') && !c.ends_with(".lock"))
}

/// `refs/heads/<branch>`, when git accepts it as a ref name: no spaces, `:`, `*`, `..` and the
/// like, which would change the meaning of a refspec or an `ls-remote` pattern.
pub(crate) fn branch_ref(branch: &str) -> Option<String> {
    let name = format!("refs/heads/{branch}");
    is_valid_ref_name(&name).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command;
    use std::path::Path;

    /// Names and whether git accepts them.
    const NAMES: &[(&str, bool)] = &[
        ("refs/heads/main", true),
        ("refs/heads/feature/x-1_2", true),
        ("refs/tollgate/integration/42", true),
        ("heads/main", true),
        ("a/b", true),
        ("refs/heads/-dash", true),
        ("refs/heads/@", true),
        ("refs/heads/a@b", true),
        ("refs/heads/a{b}", true),
        ("refs/heads/a@", true),
        ("refs/heads/{", true),
        ("refs/heads/a.b", true),
        ("refs/heads/a.", false),
        ("refs/heads/a./b", true),
        ("refs/heads/x.", false),
        ("refs/heads/.x", false),
        ("refs/.heads/x", false),
        (".refs/heads/x", false),
        ("refs/heads/.", false),
        ("refs/heads/..", false),
        ("refs/heads/a..b", false),
        ("refs/heads/a...b", false),
        ("refs/heads/a.lock", false),
        ("refs/heads/a.lock/b", false),
        ("refs/heads/.lock", false),
        ("refs/heads/a.locked", true),
        ("refs/heads/lock", true),
        ("refs/heads/a.LOCK", true),
        ("refs/heads/a@{b", false),
        ("refs/heads/@{", false),
        ("refs/heads/a@{1}", false),
        ("refs/heads/a@/{b", true),
        ("refs/heads/a//b", false),
        ("refs/heads/", false),
        ("/refs/heads/x", false),
        ("refs//heads", false),
        ("refs/heads/a b", false),
        ("refs/heads/a\tb", false),
        ("refs/heads/a\nb", false),
        ("refs/heads/a\u{1}b", false),
        ("refs/heads/a\u{1f}b", false),
        ("refs/heads/a\u{7f}b", false),
        ("refs/heads/a~1", false),
        ("refs/heads/a^", false),
        ("refs/heads/a:b", false),
        ("refs/heads/a?", false),
        ("refs/heads/*", false),
        ("refs/heads/a*b", false),
        ("refs/heads/[a]", false),
        ("refs/heads/a]", true),
        ("refs/heads/a\\b", false),
        ("refs/heads/ümlaut", true),
        ("refs/heads/日本語", true),
        ("refs/heads/emoji-🦀", true),
        ("refs/heads/\u{a0}nbsp", true),
        ("refs/heads/\u{80}", true),
        ("refs/heads/!#$%&'()+,;<=>\"`|", true),
        ("@", false),
        ("main", false),
        ("HEAD", false),
        ("", false),
        ("/", false),
        ("//", false),
        ("a/", false),
    ];

    #[test]
    fn ref_names_follow_the_rules_of_check_ref_format() {
        for &(name, valid) in NAMES {
            assert_eq!(is_valid_ref_name(name), valid, "{name:?}");
        }
        assert!(!is_valid_ref_name("refs/heads/a\0b"), "NUL ends a name in `update-ref -z`");
    }

    #[test]
    fn ref_names_agree_with_git_check_ref_format() {
        let here = Path::new("/");
        for &(name, _) in NAMES {
            // check-ref-format reads a leading `-` as an option and has no `--`; the table has
            // no such name, so every one is compared.
            assert!(!name.starts_with('-'), "{name:?} cannot be passed to check-ref-format");
            let output = command::output(here, &["check-ref-format", name]).unwrap();
            let git = match output.status.code() {
                Some(0) => true,
                Some(1) => false,
                _ => panic!("check-ref-format {name:?}: {output:?}"),
            };
            assert_eq!(is_valid_ref_name(name), git, "git and we disagree on {name:?}");
        }
    }

    #[test]
    fn branch_refs_are_under_refs_heads() {
        assert_eq!(branch_ref("main").as_deref(), Some("refs/heads/main"));
        assert_eq!(branch_ref("release/1.0").as_deref(), Some("refs/heads/release/1.0"));
        assert_eq!(branch_ref("a..b"), None);
        assert_eq!(branch_ref("x:y"), None);
        assert_eq!(branch_ref(""), None, "refs/heads/ ends with a slash");
        assert_eq!(branch_ref("@"), Some("refs/heads/@".to_owned()), "only a lone @ is refused");
    }
}
