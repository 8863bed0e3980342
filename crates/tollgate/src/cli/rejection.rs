//! What became of a change, and why it was rejected, as `tollgate stage --wait` ends.

use std::fmt::Write;

use tollgate_api::{ChangeView, FailureView, Rejection};

use super::text::change_line;

/// The change's line, then the reasons for a rejection, indented. `link` makes a full URL of
/// an API path, so that a log can be opened from the terminal.
pub fn render_outcome(change: &ChangeView, link: impl Fn(&str) -> String) -> String {
    let mut out = change_line(change);
    out.push('\n');
    if let Some(rejection) = &change.rejection {
        out.push_str(&render_rejection(rejection, Some(change.id), link));
    }
    out
}

/// The reasons, indented; `own` is the change they are shown for, so that its batch-mates
/// are named.
pub fn render_rejection(
    rejection: &Rejection,
    own: Option<i64>,
    link: impl Fn(&str) -> String,
) -> String {
    let mut out = String::new();
    match rejection {
        Rejection::Failed { failures, batch } => {
            if let Some(line) = batch_line(batch, own) {
                let _ = writeln!(out, "  {line}");
            }
            if failures.is_empty() {
                out.push_str("  significant work items failed\n");
            }
            for failure in failures {
                let _ = writeln!(out, "  {}", failure_line(failure));
                for line in &failure.excerpt {
                    let _ = writeln!(out, "    | {line}");
                }
                for test in &failure.tests {
                    let why = test.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
                    let _ = writeln!(out, "    test {} failed{why}", test.name);
                    if let Some(history) = &test.history {
                        let _ = writeln!(
                            out,
                            "      before on {}: {}",
                            failure.configuration,
                            history.describe()
                        );
                    }
                }
                if let Some(log) = &failure.log {
                    let _ = writeln!(out, "    log: {}", link(log));
                }
            }
        }
        Rejection::Conflict { paths } => {
            out.push_str("  conflicts with the branch or an earlier change of its integration");
            if paths.is_empty() {
                out.push('\n');
            } else {
                out.push_str(" in:\n");
                for path in paths {
                    let _ = writeln!(out, "    {path}");
                }
            }
        }
        Rejection::Unrelated => out.push_str("  shares no history with the branch\n"),
        Rejection::Configuration { diagnostics } => {
            out.push_str("  the Coin configuration at the integration commit has errors:\n");
            for diagnostic in diagnostics {
                let _ = writeln!(out, "    {diagnostic}");
            }
        }
    }
    out
}

/// Whether the change failed alone or with others, whose failure is not known apart.
fn batch_line(batch: &[i64], own: Option<i64>) -> Option<String> {
    let list = |ids: &[i64]| ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let mates: Vec<i64> = batch.iter().copied().filter(|&c| Some(c) != own).collect();
    Some(match (own, mates.as_slice()) {
        (_, []) if batch.is_empty() => return None,
        (Some(_), []) => "its own failure: it was integrated alone".to_owned(),
        (Some(_), [one]) => format!("integrated with change {one}: either may have caused it"),
        (Some(_), many) => {
            format!("integrated with changes {}: any of them may have caused it", list(many))
        }
        (None, [one]) => format!("change {one}, integrated alone"),
        (None, many) => {
            format!("changes {}, integrated together: any of them may have caused it", list(many))
        }
    })
}

/// `work_item: location: instruction message: user_message`.
fn failure_line(failure: &FailureView) -> String {
    let mut line = format!(
        "{}: {}: {} {}",
        failure.work_item, failure.location, failure.instruction, failure.message
    );
    if let Some(user_message) = &failure.user_message {
        let _ = write!(line, ": {user_message}");
    }
    line
}

#[cfg(test)]
mod tests {
    use tollgate_api::ChangeState;

    use super::*;

    fn link(path: &str) -> String {
        format!("http://127.0.0.1:8080{path}")
    }

    fn change(state: ChangeState, rejection: Option<Rejection>) -> ChangeView {
        ChangeView {
            id: 13,
            project: "demo/greeter".into(),
            branch: "dev".into(),
            commit: "def5678901234567890123456789012345678901".into(),
            subject: "Greet in French".into(),
            author: "Ada <ada@example.org>".into(),
            state,
            origin: "api".into(),
            staged_at: 0,
            integration: Some(3),
            rejection,
        }
    }

    fn failure(work_item: &str, user_message: Option<&str>, log: Option<&str>) -> FailureView {
        FailureView {
            work_item: work_item.into(),
            project: "demo/greeter".into(),
            configuration: "debian-12".into(),
            location: "demo/greeter/coin/instructions/build.yaml:14:5".into(),
            instruction: "ExecuteCommand".into(),
            message: "exited with code 2".into(),
            user_message: user_message.map(Into::into),
            log: log.map(Into::into),
            excerpt: Vec::new(),
            tests: Vec::new(),
        }
    }

    #[test]
    fn a_failed_test_with_a_record_says_how_often_it_failed_before() {
        let mut test = failure("demo/greeter:debian-12:Test", Some("A test failed."), None);
        test.tests = vec![tollgate_api::FailedTest {
            name: "tst_greet::french".into(),
            message: Some("expected Bonjour".into()),
            history: Some(tollgate_api::TestRecord { runs: 40, failures: 3, flakes: 2 }),
        }];
        let rejection = Rejection::Failed { failures: vec![test], batch: vec![13] };
        let shown = render_rejection(&rejection, Some(13), link);
        assert!(shown.contains("    test tst_greet::french failed: expected Bonjour\n"), "{shown}");
        assert!(
            shown.contains("      before on debian-12: failed 3 times in 40 runs (7.5%) in 30 days, 2 of them forgiven as flaky\n"),
            "{shown}"
        );
    }

    #[test]
    fn a_merged_change_is_one_line() {
        assert_eq!(
            render_outcome(&change(ChangeState::Merged, None), link),
            "13 def5678 merged      Greet in French\n"
        );
    }

    #[test]
    fn failures_name_the_instruction_and_link_the_log() {
        let mut build = failure(
            "demo/greeter:debian-12:Build",
            Some("Failed to build greeter"),
            Some("/api/log?item=demo%2Fgreeter%3Adebian-12%3ABuild&integration=3"),
        );
        build.excerpt = vec!["greet.c:3:1: error: expected ';' before '}' token".into()];
        let rejection = Rejection::Failed {
            failures: vec![build, failure("demo/greeter:debian-12:Test", None, None)],
            batch: vec![12, 13, 14],
        };
        assert_eq!(
            render_outcome(&change(ChangeState::Rejected, Some(rejection)), link),
            "13 def5678 rejected    Greet in French
  integrated with changes 12, 14: any of them may have caused it
  demo/greeter:debian-12:Build: demo/greeter/coin/instructions/build.yaml:14:5: ExecuteCommand exited with code 2: Failed to build greeter
    | greet.c:3:1: error: expected ';' before '}' token
    log: http://127.0.0.1:8080/api/log?item=demo%2Fgreeter%3Adebian-12%3ABuild&integration=3
  demo/greeter:debian-12:Test: demo/greeter/coin/instructions/build.yaml:14:5: ExecuteCommand exited with code 2
"
        );
        let alone = Rejection::Failed { failures: vec![], batch: vec![13] };
        assert_eq!(
            render_rejection(&alone, Some(13), link),
            "  its own failure: it was integrated alone\n  significant work items failed\n"
        );
    }

    #[test]
    fn a_conflict_lists_its_paths() {
        let rejection =
            Rejection::Conflict { paths: vec!["src/greet.c".into(), "README.md".into()] };
        assert_eq!(
            render_rejection(&rejection, None, link),
            "  conflicts with the branch or an earlier change of its integration in:
    src/greet.c
    README.md
"
        );
    }

    #[test]
    fn unrelated_history_says_so() {
        assert_eq!(
            render_rejection(&Rejection::Unrelated, None, link),
            "  shares no history with the branch\n"
        );
    }

    #[test]
    fn a_broken_configuration_lists_its_diagnostics() {
        let rejection = Rejection::Configuration {
            diagnostics: vec![
                "demo/greeter/coin/module_config.yaml:3:1: error: unknown field `Instructionz`"
                    .into(),
            ],
        };
        assert_eq!(
            render_rejection(&rejection, None, link),
            "  the Coin configuration at the integration commit has errors:
    demo/greeter/coin/module_config.yaml:3:1: error: unknown field `Instructionz`
"
        );
    }

    #[test]
    fn an_unstaged_change_has_no_reasons() {
        assert_eq!(
            render_outcome(&change(ChangeState::Unstaged, None), link),
            "13 def5678 unstaged    Greet in French\n"
        );
    }
}
