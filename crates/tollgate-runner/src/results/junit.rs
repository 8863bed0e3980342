//! JUnit's XML, as most test runners write it and CTest's `--output-junit` does:
//! `<testsuites>` of `<testsuite>`s (or one `<testsuite>`) of `<testcase>`s, each failed by a
//! `<failure>` or `<error>`, skipped by `<skipped>`, or passed.

use tollgate_api::{TestOutcome, TestResult};

use super::xml::Element;

pub fn read(root: &Element, results: &mut Vec<TestResult>) {
    match root.name.as_str() {
        "testsuites" | "testsuite" => {
            for suite in root.children("testsuite") {
                read(suite, results);
            }
            for case in root.children("testcase") {
                results.push(case_result(case));
            }
        }
        _ => {}
    }
}

fn case_result(case: &Element) -> TestResult {
    let name = case.attribute("name").unwrap_or("(unnamed)");
    let name = match case.attribute("classname") {
        Some(class) if !class.is_empty() && class != name => format!("{class}::{name}"),
        _ => name.to_owned(),
    };
    let failed = case.child("failure").or_else(|| case.child("error"));
    // CTest marks a test it did not run with `status="notrun"` or `"disabled"`.
    let not_run = matches!(case.attribute("status"), Some("notrun" | "disabled"));
    let (outcome, why) = match (failed, case.child("skipped")) {
        (Some(failure), _) => (TestOutcome::Failed, Some(failure)),
        (None, Some(skipped)) => (TestOutcome::Skipped, Some(skipped)),
        (None, None) if not_run => (TestOutcome::Skipped, None),
        (None, None) => (TestOutcome::Passed, None),
    };
    TestResult {
        name,
        outcome,
        message: why.and_then(message),
        millis: case.attribute("time").and_then(seconds_to_millis),
    }
}

/// The `message` attribute, or else the element's text, on one line.
fn message(element: &Element) -> Option<String> {
    let text = element.attribute("message").unwrap_or(&element.text).trim();
    let first = text.lines().next().unwrap_or_default().trim();
    (!first.is_empty()).then(|| first.to_owned())
}

fn seconds_to_millis(text: &str) -> Option<u64> {
    let seconds: f64 = text.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}
