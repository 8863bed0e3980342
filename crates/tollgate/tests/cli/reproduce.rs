//! `tollgate reproduce`: a rejected work item's failure, seen again on the developer's machine
//! from a clean data directory, with the build it depends on taken from the service's store.

use crate::site::{MODULE, Site, git};
use crate::support::path_str;

/// The Build installs the tool and uploads it; the Test runs the installed tool, so that it
/// fails only with the archive of the Build that was tested.
/// The site's Build and more.
const EXTRA: &str = r#"    - type: MakeDirectory
      directory: "{{.InstallRoot}}{{.InstallDir}}/bin"
    - type: ExecuteCommand
      command: ["install", "-m", "755", "{{.SourceDir}}/tool.sh", "{{.InstallRoot}}{{.InstallDir}}/bin/tool"]
      maxTimeInSeconds: 120
      maxTimeBetweenOutput: 120
    - type: UploadArtifact
      archiveDirectory: "{{.InstallRoot}}/{{.AgentWorkingDir}}"
      transferType: UploadModuleBuildArtifact
  Test:
    - type: ScheduleUploadTestResults
    - type: ExecuteCommand
      command: ["{{.InstallDir}}/bin/tool", "{{.AgentWorkingDir}}/testresults"]
      maxTimeInSeconds: 120
      maxTimeBetweenOutput: 120
      userMessageOnFailure: "A test failed."
"#;

#[test]
fn a_rejected_work_items_failure_is_reproduced_from_a_clean_data_directory() {
    let site = Site::with_module(&format!("{MODULE}{EXTRA}"));
    let work = site.path("work");
    let in_work = |args: &[&str]| git(site.tmp.path(), &work, args);
    std::fs::write(work.join("tool.sh"), "#!/bin/sh\necho 'PASS: app_test'\n").unwrap();
    in_work(&["add", "-A"]);
    in_work(&["commit", "-q", "-m", "The tool"]);
    in_work(&["push", "-q", "origin", "main"]);
    let mut serve = site.serve();

    let results = "<testsuite><testcase name='app_startup'/><testcase name='app_test'><failure message='expected 2, got 3'/></testcase></testsuite>";
    let broken = format!(
        "#!/bin/sh\nmkdir -p \"$1\"\necho \"{results}\" > \"$1/junit.xml\"\necho 'PASS: app_startup'\necho 'FAIL: app_test: expected 2, got 3'\nexit 1\n"
    );
    std::fs::write(work.join("tool.sh"), broken).unwrap();
    let change = site.change("broken", &[]);
    let staged = site.cli(&["stage", "demo/app", "main", &change, "--wait"]);
    assert_eq!(staged.code, 1, "rejected: {}\n{}", staged.stdout, staged.stderr);
    let integration = site.status()["branches"][0]["recent"][0]["id"].as_i64().unwrap();
    assert_eq!(site.builds(), 1);

    // A restart sweeps the mirror's refs; a rejected integration's commit stays.
    serve.kill().unwrap();
    serve.wait().unwrap();
    let mut serve = site.serve();

    let data = site.path("developer");
    let reproduce = |item: &str, integration: i64| {
        site.cli(&[
            "reproduce",
            item,
            "--integration",
            &integration.to_string(),
            "--data-dir",
            path_str(&data),
            "--writable",
            path_str(&site.path("marks")),
        ])
    };
    let id = integration.to_string();
    let reproduced = reproduce("demo/app:linux:Test", integration);
    assert_eq!(reproduced.code, 1, "{}\n{}", reproduced.stdout, reproduced.stderr);
    assert!(
        reproduced.stdout.contains("FAIL: app_test: expected 2, got 3"),
        "{}",
        reproduced.stdout
    );
    let said = &reproduced.stderr;
    let gate_saw = format!(
        "demo/app:linux:Test of integration {id} (demo/app main at {}) failed in the gate",
        &change[..7]
    );
    assert!(said.contains(&gate_saw), "{said}");
    assert!(said.contains("there: ExecuteCommand at demo/app/coin/module_config.yaml:24:7: exited with code 1: A test failed."), "{said}");
    assert!(said.contains("demo/app:linux:Build comes from the service's store"), "{said}");
    assert!(said.contains("demo/app:linux:Test failed"), "{said}");
    assert_eq!(site.builds(), 1, "the build came from the service, it did not run here");
    let fetched =
        git(site.tmp.path(), &data.join("sources/demo/app"), &["cat-file", "-t", &change]);
    assert_eq!(fetched, "commit");

    // Again, the Test runs again rather than reusing what this machine stored.
    let again = reproduce("demo/app:linux:Test", integration);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stdout.contains("FAIL: app_test"), "{}", again.stdout);
    assert!(!again.stderr.contains("Test reused"), "{}", again.stderr);

    // The work item as the service saw it, its tests read from the results it uploaded.
    let shown = site.cli(&["work-item", "demo/app:linux:Test", "--integration", &id]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let text = &shown.stdout;
    assert!(
        text.starts_with(&format!(
            "demo/app:linux:Test in integration {id} (demo/app main): failed"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "ExecuteCommand at demo/app/coin/module_config.yaml:24:7: exited with code 1"
        ),
        "{text}"
    );
    assert!(text.contains("2 tests: 1 failed, 0 skipped, 1 passed"), "{text}");
    assert!(text.contains("failed  app_test: expected 2, got 3"), "{text}");
    assert!(!text.contains("app_startup"), "passed tests only with --all: {text}");
    let all = site.cli(&["work-item", "demo/app:linux:Test", "--integration", &id, "--all"]);
    assert!(all.stdout.contains("passed  app_startup"), "{}", all.stdout);

    // What cannot be reproduced says why.
    let unknown = reproduce("demo/app:linux:Test", 99);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("no integration 99"), "{}", unknown.stderr);
    let no_item = reproduce("demo/app:linux:Docs", integration);
    assert_eq!(no_item.code, 2, "{}", no_item.stderr);
    let listed = format!(
        "integration {id} has no work item demo/app:linux:Docs; it has: demo/app:linux:Build, demo/app:linux:Test"
    );
    assert!(no_item.stderr.contains(&listed), "{}", no_item.stderr);
    serve.kill().unwrap();
    serve.wait().unwrap();
}
