//! Qt Test's XML (`-o FILE,xml`): a `<TestCase>` of `<TestFunction>`s, each with the
//! `<Incident>`s of its data rows (`<DataTag>`) and `<Message type="skip">` when skipped. An
//! expected failure (`xfail`) and a blacklisted pass count as passed, an unexpected pass
//! (`xpass`) as failed, a blacklisted failure (`bfail`, `bxpass`) as skipped: as Qt Test decides
//! whether the run failed.

use tollgate_api::{TestOutcome, TestResult};

use super::xml::Element;

pub fn read(root: &Element, results: &mut Vec<TestResult>) {
    let case = root.attribute("name").unwrap_or("(unnamed)");
    for function in root.children("TestFunction") {
        let name = format!("{case}::{}", function.attribute("name").unwrap_or("(unnamed)"));
        let millis = function
            .child("Duration")
            .and_then(|d| d.attribute("msecs"))
            .and_then(|ms| ms.parse::<f64>().ok())
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| ms.round() as u64);
        // One result per data row when the rows are named, else one for the function.
        let mut rows: Vec<(Option<String>, TestOutcome, Option<String>)> = Vec::new();
        for entry in function.children.iter() {
            let (outcome, kind) = match (entry.name.as_str(), entry.attribute("type")) {
                ("Incident", Some(kind)) => (incident(kind), kind),
                ("Message", Some("skip")) => (Some(TestOutcome::Skipped), "skip"),
                _ => continue,
            };
            let Some(outcome) = outcome else { continue };
            let tag = entry.child("DataTag").map(|t| t.text.trim().to_owned());
            let description = entry.child("Description").map(|d| d.text.trim().to_owned());
            let why = match outcome {
                TestOutcome::Passed => None,
                _ => description.filter(|d| !d.is_empty()).or_else(|| Some(kind.to_owned())),
            };
            rows.push((tag.filter(|t| !t.is_empty()), outcome, why));
        }
        if rows.iter().any(|(tag, ..)| tag.is_some()) {
            for (tag, outcome, message) in rows {
                let name = match tag {
                    Some(tag) => format!("{name}[{tag}]"),
                    None => name.clone(),
                };
                results.push(TestResult { name, outcome, message, millis: None });
            }
            continue;
        }
        let worst = rows
            .iter()
            .find(|(_, outcome, _)| *outcome == TestOutcome::Failed)
            .or_else(|| rows.iter().find(|(_, outcome, _)| *outcome == TestOutcome::Skipped));
        let (outcome, message) = match worst {
            Some((_, outcome, message)) => (*outcome, message.clone()),
            None => (TestOutcome::Passed, None),
        };
        results.push(TestResult { name, outcome, message, millis });
    }
}

fn incident(kind: &str) -> Option<TestOutcome> {
    match kind {
        "pass" | "xfail" | "bpass" | "bxfail" => Some(TestOutcome::Passed),
        "fail" | "xpass" => Some(TestOutcome::Failed),
        "skip" | "bfail" | "bxpass" => Some(TestOutcome::Skipped),
        _ => None,
    }
}
