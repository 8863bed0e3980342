//! The quarantine: tests whose failures do not reject, each for a while, with an owner and a
//! reason.

use serde::{Deserialize, Serialize};

/// `POST /api/quarantine`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewQuarantine {
    pub project: String,
    /// A test's name as its results give it (`tst_qstring::append`), or a prefix of names
    /// ending in `*` (`tst_qstring::*`).
    pub test: String,
    /// A regular expression that some part of a platform configuration's id matches
    /// (`^linux-`); none for every configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    /// Who looks after it: a person or a team.
    pub owner: String,
    /// Why, or the ticket that tracks it.
    pub reason: String,
    /// When it ends, in ms: from then on the test gates again by itself.
    pub until: i64,
}

/// An entry of the quarantine, as `GET /api/quarantine` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineView {
    pub id: i64,
    pub project: String,
    pub test: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    pub owner: String,
    pub reason: String,
    pub until: i64,
    pub added_at: i64,
    /// The token that added it; none while the API needs no token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
    /// When it was removed before its end, and by whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<String>,
}

impl QuarantineView {
    /// Whether its failures are forgiven at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        self.removed_at.is_none() && now_ms < self.until
    }

    /// Whether it names `test` (the configuration's regex is the caller's to match).
    pub fn names(&self, test: &str) -> bool {
        match self.test.strip_suffix('*') {
            Some(prefix) => test.starts_with(prefix),
            None => test == self.test,
        }
    }
}

/// A test that failed while quarantined: its failure did not reject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedTest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The entry that forgave it.
    pub quarantine: i64,
    pub owner: String,
    pub reason: String,
    pub until: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(test: &str) -> QuarantineView {
        QuarantineView {
            id: 1,
            project: "demo/app".into(),
            test: test.into(),
            configuration: None,
            owner: "qa".into(),
            reason: "QTBUG-1".into(),
            until: 1_000,
            added_at: 0,
            added_by: None,
            removed_at: None,
            removed_by: None,
        }
    }

    #[test]
    fn an_entry_names_one_test_or_a_prefix_and_ends_by_itself_or_when_removed() {
        assert!(entry("tst_a::one").names("tst_a::one"));
        assert!(!entry("tst_a::one").names("tst_a::one_more"));
        assert!(entry("tst_a::*").names("tst_a::two"));
        assert!(!entry("tst_a::*").names("tst_b::two"));
        assert!(entry("x").active(999));
        assert!(!entry("x").active(1_000));
        let removed = QuarantineView { removed_at: Some(5), ..entry("x") };
        assert!(!removed.active(10));
    }
}
