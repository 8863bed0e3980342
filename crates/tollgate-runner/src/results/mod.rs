//! The test results a work item leaves in `{{.AgentWorkingDir}}/testresults` for
//! `ScheduleUploadTestResults`, read into test → passed / failed / skipped: JUnit XML (and
//! CTest's `--output-junit`) and Qt Test's XML, told apart by their root element. Reading is
//! pure (`parse`); `read_dir` is the edge that finds the files.

mod junit;
mod qtest;
mod xml;

use std::path::Path;

use tollgate_api::{TestOutcome, TestResult};

/// A results file larger than this is not read: it would be a runaway, not results.
const MAX_FILE: u64 = 64 << 20;
/// The most tests kept of one work item.
pub const MAX_TESTS: usize = 20_000;

/// The tests of one results file; an XML file of another kind has none.
pub fn parse(text: &str) -> Result<Vec<TestResult>, String> {
    let root = xml::parse(text)?;
    let mut results = Vec::new();
    match root.name.as_str() {
        "testsuites" | "testsuite" => junit::read(&root, &mut results),
        "TestCase" => qtest::read(&root, &mut results),
        _ => {}
    }
    Ok(results)
}

/// Every test of the `.xml` files under `dir`, failed ones first, then skipped, then passed,
/// each group in the files' order; and a line for each file that could not be read.
pub fn read_dir(dir: &Path) -> (Vec<TestResult>, Vec<String>) {
    let mut files = Vec::new();
    collect(dir, 0, &mut files);
    files.sort();
    let mut results = Vec::new();
    let mut unread = Vec::new();
    for file in files {
        let text = match std::fs::metadata(&file) {
            Ok(meta) if meta.len() > MAX_FILE => {
                unread.push(format!("{}: larger than {MAX_FILE} bytes", file.display()));
                continue;
            }
            _ => std::fs::read_to_string(&file),
        };
        match text.map_err(|e| e.to_string()).and_then(|text| parse(&text)) {
            Ok(found) => results.extend(found),
            Err(error) => unread.push(format!("{}: {error}", file.display())),
        }
    }
    results.sort_by_key(|result| match result.outcome {
        TestOutcome::Failed => 0,
        TestOutcome::Skipped => 1,
        TestOutcome::Passed => 2,
    });
    if results.len() > MAX_TESTS {
        unread.push(format!("{} tests; the first {MAX_TESTS} are kept", results.len()));
        results.truncate(MAX_TESTS);
    }
    (results, unread)
}

fn collect(dir: &Path, depth: usize, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else { continue };
        let path = entry.path();
        if kind.is_dir() && depth < 8 {
            collect(&path, depth + 1, files);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "xml") {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(results: &[TestResult]) -> Vec<(&str, TestOutcome, Option<&str>)> {
        results.iter().map(|r| (r.name.as_str(), r.outcome, r.message.as_deref())).collect()
    }

    #[test]
    fn junit_cases_pass_fail_and_skip_with_their_messages() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="app" tests="4">
    <testcase classname="app.Strings" name="joins" time="0.012"/>
    <testcase classname="app.Strings" name="splits" time="0.5">
      <failure message="expected 2, got 3" type="AssertionError">at strings.c:12 &amp; more</failure>
    </testcase>
    <testcase classname="app.Net" name="connects"><skipped message="no network"/></testcase>
    <testcase classname="app.Net" name="resolves"><error>segfault&#10;in resolve()</error></testcase>
  </testsuite>
</testsuites>"#;
        let results = parse(text).unwrap();
        assert_eq!(
            outcomes(&results),
            [
                ("app.Strings::joins", TestOutcome::Passed, None),
                ("app.Strings::splits", TestOutcome::Failed, Some("expected 2, got 3")),
                ("app.Net::connects", TestOutcome::Skipped, Some("no network")),
                ("app.Net::resolves", TestOutcome::Failed, Some("segfault")),
            ]
        );
        assert_eq!(results[0].millis, Some(12));
        assert_eq!(results[1].millis, Some(500));
    }

    #[test]
    fn ctests_junit_output_names_each_test_once_and_skips_what_did_not_run() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="Linux-c++" tests="3" failures="1" disabled="1" skipped="0" hostname="" time="0">
	<testcase name="app_test" classname="app_test" time="0.0123" status="fail">
		<failure message="Failed"/>
		<system-out>FAIL: app_test: expected 2, got 3</system-out>
	</testcase>
	<testcase name="lib_test" classname="lib_test" time="0.002" status="run"><system-out>ok</system-out></testcase>
	<testcase name="gui_test" classname="gui_test" time="0" status="disabled"><skipped message="Disabled"/></testcase>
</testsuite>"#;
        assert_eq!(
            outcomes(&parse(text).unwrap()),
            [
                ("app_test", TestOutcome::Failed, Some("Failed")),
                ("lib_test", TestOutcome::Passed, None),
                ("gui_test", TestOutcome::Skipped, Some("Disabled")),
            ]
        );
    }

    #[test]
    fn qt_test_functions_and_their_data_rows() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<TestCase name="tst_QString">
<Environment><QtVersion>6.8.0</QtVersion></Environment>
<TestFunction name="initTestCase"><Incident type="pass" file="" line="0"/><Duration msecs="0.05"/></TestFunction>
<TestFunction name="append">
<Incident type="pass" file="" line="0"><DataTag><![CDATA[empty]]></DataTag></Incident>
<Incident type="fail" file="tst_qstring.cpp" line="42"><DataTag><![CDATA[latin1]]></DataTag>
<Description><![CDATA[Compared values are not the same
   Actual   (s): "ab"
   Expected (t): "abc"]]></Description></Incident>
<Duration msecs="1.4"/>
</TestFunction>
<TestFunction name="knownBug"><Incident type="xfail" file="tst_qstring.cpp" line="50"><Description><![CDATA[QTBUG-1]]></Description></Incident><Duration msecs="0"/></TestFunction>
<TestFunction name="fixedBug"><Incident type="xpass" file="tst_qstring.cpp" line="60"><Description><![CDATA[QTBUG-2 passes now]]></Description></Incident></TestFunction>
<TestFunction name="onWindows"><Message type="skip" file="tst_qstring.cpp" line="70"><Description><![CDATA[Windows only]]></Description></Message><Duration msecs="0"/></TestFunction>
<TestFunction name="blacklisted"><Incident type="bfail" file="" line="0"/></TestFunction>
<Duration msecs="3.1"/>
</TestCase>"#;
        let results = parse(text).unwrap();
        let first_line =
            "Compared values are not the same\n   Actual   (s): \"ab\"\n   Expected (t): \"abc\"";
        assert_eq!(
            outcomes(&results),
            [
                ("tst_QString::initTestCase", TestOutcome::Passed, None),
                ("tst_QString::append[empty]", TestOutcome::Passed, None),
                ("tst_QString::append[latin1]", TestOutcome::Failed, Some(first_line)),
                ("tst_QString::knownBug", TestOutcome::Passed, None),
                ("tst_QString::fixedBug", TestOutcome::Failed, Some("QTBUG-2 passes now")),
                ("tst_QString::onWindows", TestOutcome::Skipped, Some("Windows only")),
                ("tst_QString::blacklisted", TestOutcome::Skipped, Some("bfail")),
            ]
        );
        assert_eq!(results[0].millis, Some(0));
    }

    #[test]
    fn a_broken_file_says_where_and_another_kind_of_xml_has_no_tests() {
        let broken = parse("<testsuite><testcase name='a'></testsuite>").unwrap_err();
        assert!(broken.starts_with("at byte "), "{broken}");
        assert!(parse("<project><target/></project>").unwrap().is_empty());
    }

    #[test]
    fn a_folder_of_results_is_read_failed_first_and_unreadable_files_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("qt")).unwrap();
        let junit = "<testsuite><testcase name='a'/><testcase name='b'><failure message='no'/></testcase></testsuite>";
        std::fs::write(tmp.path().join("a.xml"), junit).unwrap();
        std::fs::write(tmp.path().join("qt/b.xml"), "<TestCase name='t'><TestFunction name='f'><Incident type='skip'/></TestFunction></TestCase>").unwrap();
        std::fs::write(tmp.path().join("c.xml"), "<testsuite>").unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "not results").unwrap();
        let (results, unread) = read_dir(tmp.path());
        let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["b", "t::f", "a"]);
        assert_eq!(unread.len(), 1, "{unread:?}");
        assert!(unread[0].contains("c.xml: at byte"), "{unread:?}");
    }
}
