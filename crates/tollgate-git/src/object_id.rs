//! Typed object ids, so a commit is never passed where a tree is expected.

use std::fmt;

/// The full id of a commit: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitId(String);

/// The full id of a tree object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeOid(String);

/// A full object id. Abbreviated ids are refused: they are refs to resolve, not ids, and
/// they can become ambiguous as a repository grows.
fn full_hex(id: &str) -> Option<String> {
    let valid = matches!(id.len(), 40 | 64)
        && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    valid.then(|| id.to_owned())
}

impl CommitId {
    /// Checks the form only; whether a repository has the commit is
    /// [`Repository::rev_parse_commit`](crate::Repository::rev_parse_commit)'s question.
    pub fn parse(id: &str) -> Option<CommitId> {
        full_hex(id).map(CommitId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TreeOid {
    pub fn parse(id: &str) -> Option<TreeOid> {
        full_hex(id).map(TreeOid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for TreeOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_lowercase_ids_parse() {
        let sha1 = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(CommitId::parse(sha1).unwrap().as_str(), sha1);
        assert!(CommitId::parse(&"a".repeat(64)).is_some(), "SHA-256");
        assert!(CommitId::parse("0123456").is_none(), "abbreviated");
        assert!(CommitId::parse(&sha1.to_uppercase()).is_none());
        assert!(CommitId::parse("dev").is_none());
    }
}
