//! The quarantine of tests: admins add entries with an owner, a reason and an end; the gate
//! forgives a Test work item whose failed tests are all quarantined on its configuration.
//! A quarantined test still runs and is reported, and gates again once its entry ends.

use regex::Regex;
use tollgate_api::{NewQuarantine, QuarantineView, QuarantinedTest, TestResult};

use crate::controller::Controller;
use crate::error::ControllerError;

/// The entries `GET /api/quarantine` lists at most.
const LIST: i64 = 500;

impl Controller {
    pub async fn add_quarantine(
        &self,
        new: NewQuarantine,
        by: Option<&str>,
    ) -> Result<QuarantineView, ControllerError> {
        let bad = |text: String| Err(ControllerError::BadRequest(text));
        if self.db.project(&new.project).await?.is_none() {
            return Err(ControllerError::NotFound(format!("no project `{}`", new.project)));
        }
        for (field, value) in [("test", &new.test), ("owner", &new.owner), ("reason", &new.reason)]
        {
            if value.trim().is_empty() {
                return bad(format!("`{field}` is empty: a quarantine entry names its {field}"));
            }
        }
        if let Some(configuration) = &new.configuration
            && let Err(error) = Regex::new(configuration)
        {
            return bad(format!(
                "`configuration`: `{configuration}` is not a regular expression: {error}"
            ));
        }
        let now = tollgate_state::now_ms();
        if new.until <= now {
            return bad(format!(
                "`until`: {} has passed; an entry ends in the future",
                humantime::format_rfc3339_seconds(time_of(new.until))
            ));
        }
        Ok(self.db.add_quarantine(&new, by).await?)
    }

    pub async fn remove_quarantine(
        &self,
        id: i64,
        by: Option<&str>,
    ) -> Result<QuarantineView, ControllerError> {
        Ok(self.db.remove_quarantine(id, by).await?)
    }

    /// The newest entries (of `project`), those in force only unless `all`.
    pub async fn quarantine(
        &self,
        project: Option<&str>,
        all: bool,
    ) -> Result<Vec<QuarantineView>, ControllerError> {
        if let Some(project) = project
            && self.db.project(project).await?.is_none()
        {
            return Err(ControllerError::NotFound(format!("no project `{project}`")));
        }
        let mut entries = self.db.quarantine(project, LIST).await?;
        let now = tollgate_state::now_ms();
        entries.retain(|entry| all || entry.active(now));
        Ok(entries)
    }
}

/// The failed tests, each with the entry that quarantines it on `configuration`, when every
/// one is quarantined; none when a failed test is not (or none failed: a work item that
/// failed without naming a test failed for another reason).
pub fn covering(
    entries: &[QuarantineView],
    configuration: &str,
    failed: &[TestResult],
) -> Option<Vec<QuarantinedTest>> {
    if failed.is_empty() {
        return None;
    }
    let on_configuration: Vec<&QuarantineView> =
        entries.iter().filter(|entry| applies(entry, configuration)).collect();
    failed
        .iter()
        .map(|test| {
            let entry = on_configuration.iter().find(|entry| entry.names(&test.name))?;
            Some(QuarantinedTest {
                name: test.name.clone(),
                message: test.message.clone(),
                quarantine: entry.id,
                owner: entry.owner.clone(),
                reason: entry.reason.clone(),
                until: entry.until,
            })
        })
        .collect()
}

/// Whether `entry` is for the platform configuration `configuration`.
pub(crate) fn applies(entry: &QuarantineView, configuration: &str) -> bool {
    match &entry.configuration {
        None => true,
        // Checked when it was added; an entry that no longer compiles forgives nothing.
        Some(pattern) => Regex::new(pattern).is_ok_and(|re| re.is_match(configuration)),
    }
}

fn time_of(ms: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_api::TestOutcome;

    fn entry(id: i64, test: &str, configuration: Option<&str>) -> QuarantineView {
        QuarantineView {
            id,
            project: "demo/app".into(),
            test: test.into(),
            configuration: configuration.map(str::to_owned),
            owner: "qa".into(),
            reason: "QTBUG-7".into(),
            until: 1,
            added_at: 0,
            added_by: None,
            removed_at: None,
            removed_by: None,
        }
    }

    fn failed(name: &str) -> TestResult {
        TestResult {
            name: name.into(),
            outcome: TestOutcome::Failed,
            message: Some("boom".into()),
            millis: None,
        }
    }

    #[test]
    fn a_failure_is_forgiven_only_when_every_failed_test_is_quarantined_on_its_configuration() {
        let entries = [entry(1, "tst_a::one", Some("^linux")), entry(2, "tst_b::*", None)];
        let forgiven = covering(&entries, "linux-gcc", &[failed("tst_a::one"), failed("tst_b::x")])
            .expect("both are quarantined");
        let by: Vec<(&str, i64)> =
            forgiven.iter().map(|t| (t.name.as_str(), t.quarantine)).collect();
        assert_eq!(by, [("tst_a::one", 1), ("tst_b::x", 2)]);
        assert_eq!(forgiven[0].message.as_deref(), Some("boom"));

        assert!(covering(&entries, "windows-msvc", &[failed("tst_a::one")]).is_none());
        assert!(
            covering(&entries, "linux-gcc", &[failed("tst_a::one"), failed("tst_c")]).is_none()
        );
        assert!(
            covering(&entries, "linux-gcc", &[]).is_none(),
            "no test named: not a test's fault"
        );
    }
}
