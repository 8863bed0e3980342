//! Every instruction type, performed for real in the sandbox.

use crate::harness::*;
use tollgate_api::TestOutcome;

#[tokio::test]
async fn commands_run_without_a_shell_and_the_environment_carries_over() {
    let h = Harness::new().await;
    h.app(
        &[],
        r##"
    - type: EnvironmentVariable
      variableName: GREETING
      variableValue: hello
    - type: AppendToEnvironmentVariable
      variableName: GREETING
      variableValue: " world"
    - type: PrependToEnvironmentVariable
      variableName: PATH
      variableValue: "/opt/nothing:"
    - type: ExecuteCommand
      command: ["sh", "-c", "echo \"$GREETING\"; echo \"$PATH\" | cut -d: -f1; echo \"$HOME\" \"$PWD\""]
    - type: ExecuteCommand
      command: "echo $GREETING {{.Env.GREETING}}"
"##,
    );
    let run = h.build().await;
    run.assert_passed();
    // No shell: `$GREETING` is passed as it is written; the template is rendered.
    assert_eq!(
        run.out(),
        ["hello world", "/opt/nothing", "/home/qt /home/qt/work", "$GREETING hello world"]
    );
}

#[tokio::test]
async fn folders_files_and_renames() {
    let h = Harness::new().await;
    h.app(
        &[],
        r##"
    - type: MakeDirectory
      directory: "{{.SourceDir}}_build/sub"
    - type: SetBuildDirectory
      directory: "{{.SourceDir}}_build"
    - type: ChangeDirectory
      directory: "{{.BuildDir}}/sub"
    - type: WriteFile
      filename: run.sh
      fileContents: "#!/bin/sh\necho from {{.BuildDir}}\n"
      fileMode: 493
    - type: Rename
      sourcePath: run.sh
      targetPath: "{{.BuildDir}}/renamed.sh"
    - type: ExecuteCommand
      command: ["sh", "-c", "stat -c %a ../renamed.sh; ../renamed.sh; pwd"]
    - type: ChangeDirectory
      directory: /home/qt/work/nowhere
      userMessageOnFailure: "The build folder is missing."
"##,
    );
    let run = h.build().await;
    assert_eq!(
        run.out(),
        ["755", "from /home/qt/work/demo/app_build", "/home/qt/work/demo/app_build/sub"]
    );
    assert!(run.failure().ends_with(
        "ChangeDirectory there is no folder `/home/qt/work/nowhere`: The build folder is missing."
    ));
    assert!(
        run.failure().starts_with("demo/app/coin/module_config.yaml:20:7:"),
        "{}",
        run.failure()
    );
}

#[tokio::test]
async fn the_sources_are_in_the_source_dir() {
    let h = Harness::new().await;
    h.file(APP, "src/main.c", "int main(void) { return 0; }\n");
    h.app(
        &[],
        r##"
    - type: ChangeDirectory
      directory: "{{.SourceDir}}"
    - type: ExecuteCommand
      command: ["sh", "-c", "pwd; cat src/main.c; ls coin"]
"##,
    );
    let run = h.build().await;
    run.assert_passed();
    assert_eq!(
        run.out(),
        [
            "/home/qt/work/demo/app",
            "int main(void) { return 0; }",
            "module_config.yaml",
            "platform_configs"
        ]
    );
}

#[tokio::test]
async fn scripts_and_files_set_variables() {
    let h = Harness::new().await;
    h.app(
        &[],
        r##"
    - type: WriteFile
      filename: "{{.Env.HOME}}/env.sh"
      fileContents: "export FROM_SCRIPT=\"$1 yes\"\necho sourcing\n"
    - type: SetEnvironmentFromScript
      command: ["{{.Env.HOME}}/env.sh", "said"]
    - type: WriteFile
      filename: .cmake.conf
      fileContents: "set(QT_REPO_MODULE_VERSION \"6.9.0\")\n"
    - type: ParseEnvironmentVariableFromFile
      filename: .cmake.conf
      regex: 'set\(QT_REPO_MODULE_VERSION "(?P<QT_REPO_MODULE_VERSION>[0-9.]+)"'
    - type: ExecuteCommand
      command: ["sh", "-c", "echo \"$FROM_SCRIPT\" \"$QT_REPO_MODULE_VERSION\""]
"##,
    );
    let run = h.build().await;
    run.assert_passed();
    assert_eq!(run.out(), ["said yes 6.9.0"]);
    // The script's own output went to the log.
    assert!(run.log.contains(" err sourcing"), "{}", run.log);
}

#[tokio::test]
async fn runtime_conditions_see_the_environment_of_their_moment() {
    let h = Harness::new().await;
    h.app(
        &[],
        r##"
    - type: EnvironmentVariable
      variableName: TIMEOUT
      variableValue: "60"
      enable_if:
        condition: runtime
        env_var: TIMEOUT
        equals_value: null
    - type: ExecuteCommand
      command: "echo first {{.Env.TIMEOUT}}"
      maxTimeInSeconds: "{{.Env.TIMEOUT}}"
    - type: EnvironmentVariable
      variableName: TIMEOUT
      variableValue: "7"
    - type: ExecuteCommand
      command: "echo skipped"
      enable_if:
        condition: runtime
        env_var: TIMEOUT
        equals_value: "60"
    - type: ExecuteCommand
      command: "echo second {{.Env.TIMEOUT}}"
      disable_if:
        condition: runtime
        env_var: TIMEOUT
        not_equals_value: "7"
"##,
    );
    let run = h.build().await;
    run.assert_passed();
    assert_eq!(run.out(), ["first 60", "second 7"]);
}

#[tokio::test]
async fn a_build_uploads_what_its_test_installs() {
    let h = Harness::new().await;
    h.file(APP, "tool.sh", "#!/bin/sh\necho the tool\n");
    h.file(
        APP,
        "coin/module_config.yaml",
        r##"version: 2
instructions:
  Build:
    - type: MakeDirectory
      directory: "{{.InstallRoot}}{{.InstallDir}}/bin"
    - type: ExecuteCommand
      command: ["install", "-m", "755", "{{.SourceDir}}/tool.sh", "{{.InstallRoot}}{{.InstallDir}}/bin/tool"]
    - type: UploadArtifact
      archiveDirectory: "{{.InstallRoot}}/{{.AgentWorkingDir}}"
      transferType: UploadModuleBuildArtifact
    - type: MakeDirectory
      directory: "{{.SourceDir}}_tests"
    - type: WriteFile
      filename: "{{.SourceDir}}_tests/check.sh"
      fileContents: "#!/bin/sh\necho checked\n"
      fileMode: 493
    - type: UploadTestArtifact
      archiveDirectory: "{{.SourceDir}}_tests"
      transferType: UploadModuleTestsArtifact
  Test:
    - type: MakeDirectory
      directory: "{{.SourceDir}}_tests"
    - type: InstallTestBinaryArchive
      relativeStoragePath: "{{.Env.MODULE_ARTIFACTS_RELATIVE_STORAGE_PATH}}/tests.tar.gz"
      directory: "{{.SourceDir}}_tests"
    - type: ExecuteCommand
      command: ["sh", "-c", "{{.SourceDir}}_tests/check.sh; {{.InstallDir}}/bin/tool"]
"##,
    );
    h.configurations(
        APP,
        "- Id: linux\n  Template: qtci-linux-Debian-12-x86_64-1\n  Compiler: GCC\n",
    );
    let plan = h.plan(APP);
    let build = h.run(&plan, "demo/app:linux:Build").await;
    build.assert_passed();
    let record = build.finished.record.as_ref().unwrap();
    assert_eq!(record.artifacts.keys().collect::<Vec<_>>(), ["artifacts.tar.gz", "tests.tar.gz"]);
    // The Test installs the module's own build under the install dir before its instructions,
    // then its tests archive where it asks.
    let test = h.run(&plan, "demo/app:linux:Test").await;
    test.assert_passed();
    assert_eq!(test.out(), ["checked", "the tool"]);
}

#[tokio::test]
async fn a_file_list_leaves_older_files_out_of_an_upload() {
    let h = Harness::new().await;
    h.app(
        &[],
        r##"
    - type: MakeDirectory
      directory: docs
    - type: WriteFile
      filename: docs/old.txt
      fileContents: old
    - type: CreateFileListFromDirectory
      directory: docs
      filterListFileName: before.txt
    - type: WriteFile
      filename: docs/html/new.html
      fileContents: new
    - type: UploadArtifact
      archiveDirectory: docs
      transferType: UploadModuleDocumentation
      filterListFileName: before.txt
"##,
    );
    let run = h.build().await;
    run.assert_passed();
    let digest = run.finished.record.as_ref().unwrap().artifacts["docs.tar.gz"];
    let archive = h.dir.path().join("docs.tar.zst");
    assert!(tollgate_store::Store::fetch(&*h.store, &digest, &archive).unwrap());
    let unpacked = h.dir.path().join("docs");
    tollgate_store::unpack(&archive, &unpacked).unwrap();
    assert_eq!(read(&unpacked.join("html/new.html")), "new");
    assert!(!unpacked.join("old.txt").exists());
}

#[tokio::test]
async fn another_projects_sources_are_installed() {
    let h = Harness::new().await;
    h.file("demo/qa", "scripts/license-check.sh", "echo licenses are fine\n");
    h.app(
        &[],
        r##"
    - type: InstallSourceArchive
      project: demo/qa
      ref: CURRENT_BRANCH
      directory: qa
    - type: ExecuteCommand
      command: ["sh", "qa/scripts/license-check.sh"]
"##,
    );
    let run = h.build().await;
    run.assert_passed();
    assert_eq!(run.out(), ["licenses are fine"]);
}

#[tokio::test]
async fn what_a_local_agent_has_no_use_for_passes_and_says_so() {
    let h = Harness::new().await;
    h.app(
        &[],
        r##"
    - type: UpdateRepo
      repos: [demo/qa]
    - type: SignPackage
      directory: "{{.InstallDir}}"
"##,
    );
    let run = h.build().await;
    run.assert_passed();
    assert!(run.log.contains("nothing to refresh for demo/qa"), "{}", run.log);
    assert!(run.log.contains("no code signing on this agent"), "{}", run.log);
}

#[tokio::test]
async fn test_results_are_uploaded_even_after_a_failure() {
    let h = Harness::new().await;
    h.app(
        &[],
        r##"
    - type: ScheduleUploadTestResults
    - type: MakeDirectory
      directory: "{{.AgentWorkingDir}}/testresults"
    - type: ExecuteCommand
      command: ["sh", "-c", "echo '<testsuite/>' > {{.AgentWorkingDir}}/testresults/junit.xml; exit 1"]
"##,
    );
    let run = h.build().await;
    assert!(run.failure().contains("exited with code 1"));
    let record = run.finished.record.as_ref().unwrap();
    assert!(record.artifacts.contains_key("testresults.tar.gz"), "{record:?}");
}

#[tokio::test]
async fn the_uploaded_test_results_are_read_into_the_record_whatever_their_format() {
    let h = Harness::new().await;
    h.file(
        APP,
        "junit.xml",
        "<testsuite><testcase classname='app' name='joins'/><testcase classname='app' name='splits'><failure message='expected 2, got 3'/></testcase></testsuite>",
    );
    h.file(
        APP,
        "qt.xml",
        "<TestCase name='tst_app'><TestFunction name='gui'><Message type='skip'><Description><![CDATA[no display]]></Description></Message></TestFunction></TestCase>",
    );
    h.app(
        &[],
        r##"
    - type: ScheduleUploadTestResults
    - type: MakeDirectory
      directory: "{{.AgentWorkingDir}}/testresults/qt"
    - type: ExecuteCommand
      command: ["sh", "-c", "cp {{.SourceDir}}/junit.xml {{.AgentWorkingDir}}/testresults/; cp {{.SourceDir}}/qt.xml {{.AgentWorkingDir}}/testresults/qt/; echo '<testsuite>' > {{.AgentWorkingDir}}/testresults/broken.xml; exit 1"]
"##,
    );
    let run = h.build().await;
    assert!(run.failure().contains("exited with code 1"));
    let tests = &run.finished.record.as_ref().unwrap().tests;
    let seen: Vec<(&str, TestOutcome)> =
        tests.iter().map(|t| (t.name.as_str(), t.outcome)).collect();
    assert_eq!(
        seen,
        [
            ("app::splits", TestOutcome::Failed),
            ("tst_app::gui", TestOutcome::Skipped),
            ("app::joins", TestOutcome::Passed),
        ]
    );
    assert_eq!(tests[0].message.as_deref(), Some("expected 2, got 3"));
    assert!(run.log.contains("test results: 3 tests, 1 failed, 1 skipped"), "{}", run.log);
    assert!(run.log.contains("test results not read: "), "{}", run.log);
    assert!(run.log.contains("broken.xml: at byte"), "{}", run.log);
}

#[tokio::test]
async fn flaky_tests_get_their_repetitions() {
    let h = Harness::new().await;
    // Fails the first time, passes the second.
    let flaky = r#"["sh", "-c", "n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count; test $n -ge 1"]"#;
    h.app(
        &[],
        &format!(
            "
    - type: RunQtUnitTest
      runTestCommand: {flaky}
      testRepetitionAllowance: 2
"
        ),
    );
    h.build().await.assert_passed();

    h.app(&[], &format!("\n    - type: RunQtUnitTest\n      runTestCommand: {flaky}\n      testRepetitionAllowance: 0\n"));
    assert!(h.build().await.failure().contains("RunQtUnitTest exited with code 1"));
}

#[tokio::test]
async fn an_instruction_that_cannot_be_performed_fails_with_its_place() {
    let h = Harness::new().await;
    h.app(
        &[],
        "
    - type: ExecuteCommand
      command: [\"true\"]
    - type: Frobnicate
      argument: 1
",
    );
    let plan = h.plan_with_errors(APP);
    let run = h.run(&plan, "demo/app:linux:Build").await;
    assert_eq!(
        run.failure(),
        "demo/app/coin/module_config.yaml:7:7: instruction cannot be performed: unknown instruction type `Frobnicate`"
    );
}

#[tokio::test]
async fn a_missing_program_is_the_changes_failure() {
    let h = Harness::new().await;
    h.app(&[], "    - type: ExecuteCommand\n      command: no-such-program --version\n");
    let run = h.build().await;
    // The sandbox came up; the shell could not find the program.
    assert!(run.failure().contains("exited with code 127"), "{}", run.failure());
    assert!(run.log.contains("no-such-program"), "{}", run.log);
}

#[tokio::test]
async fn a_background_process_runs_beside_later_instructions_until_the_end() {
    let h = Harness::new().await;
    h.app(
        &[],
        r##"
    - type: ExecuteCommand
      command: ["sh", "-c", "while :; do echo tick; sleep 0.05; done"]
      startInBackground: True
    - type: ExecuteCommand
      command: ["sh", "-c", "sleep 0.5; echo foreground done"]
"##,
    );
    let run = h.build().await;
    run.assert_passed();
    let out = run.out();
    // It ran while the next instruction did, and stopped with the work item.
    assert!(out.iter().filter(|l| **l == "tick").count() >= 3, "{}", run.log);
    assert!(out.contains(&"foreground done"), "{}", run.log);
    assert!(run.log.contains("(in the background)"), "{}", run.log);
}

/// A module `demo/lib` whose Build uploads an install tree with `lib/liba.txt` (and whatever
/// `extra` adds), and `demo/app` depending on it, whose Build is `instructions`.
fn library_and_app(h: &Harness, extra: &str, instructions: &str) {
    h.file(
        "demo/lib",
        "coin/module_config.yaml",
        &format!(
            r##"version: 2
instructions:
  Build:
    - type: MakeDirectory
      directory: "{{{{.InstallRoot}}}}{{{{.InstallDir}}}}/lib"
    - type: WriteFile
      filename: "{{{{.InstallRoot}}}}{{{{.InstallDir}}}}/lib/liba.txt"
      fileContents: "the library"
{extra}    - type: UploadArtifact
      archiveDirectory: "{{{{.InstallRoot}}}}/{{{{.AgentWorkingDir}}}}"
      transferType: UploadModuleBuildArtifact
    - type: UploadArtifact
      archiveDirectory: "{{{{.InstallRoot}}}}/{{{{.AgentWorkingDir}}}}"
      transferType: GenericArtifactWithName
      filename: lib-sdk.tar.gz
"##
        ),
    );
    h.file("demo/app", "dependencies.yaml", "dependencies:\n  ../lib:\n    ref: HEAD\n");
    h.app(&[], instructions);
}

#[tokio::test]
async fn binary_archives_are_installed_by_path_or_by_name() {
    let h = Harness::new().await;
    library_and_app(
        &h,
        "",
        r##"
    - type: InstallBinaryArchive
      relativeStoragePath: "artifacts/LIBKEY/lib-sdk.tar.gz"
      directory: by-path
    - type: InstallBinaryArchive
      regex: "^lib-.*\\.tar\\.gz$"
      directory: by-name
    - type: ExecuteCommand
      command: ["sh", "-c", "cat {{.InstallDir}}/lib/liba.txt by-path/install/lib/liba.txt by-name/install/lib/liba.txt"]
"##,
    );
    let plan = h.plan(APP);
    let lib = work_item(&plan, "demo/lib:linux:Build").build_key.to_hex();
    // The app names the library's build by its key, as MODULE_ARTIFACTS_RELATIVE_STORAGE_PATH
    // would for its own module.
    let module = h.sources().join("demo/app/coin/module_config.yaml");
    let text = std::fs::read_to_string(&module).unwrap().replace("LIBKEY", &lib);
    std::fs::write(&module, text).unwrap();
    let plan = h.plan(APP);
    h.run(&plan, "demo/lib:linux:Build").await.assert_passed();
    let app = h.run(&plan, "demo/app:linux:Build").await;
    app.assert_passed();
    // Installed before the instructions, then by path, then by name.
    assert_eq!(app.out(), ["the librarythe librarythe library"]);
}

#[tokio::test]
async fn an_archive_with_a_link_out_of_its_folder_is_refused_where_it_is_installed() {
    let h = Harness::new().await;
    // The library's build leaves a link to the host's /etc in its install tree.
    let evil = "    - type: ExecuteCommand\n      command: [\"ln\", \"-s\", \"/etc\", \"{{.InstallRoot}}{{.InstallDir}}/lib/etc\"]\n";
    library_and_app(&h, evil, "    - type: ExecuteCommand\n      command: [\"true\"]\n");
    let plan = h.plan(APP);
    h.run(&plan, "demo/lib:linux:Build").await.assert_passed();
    let app = h.run(&plan, "demo/app:linux:Build").await;
    // Installing the dependency fails, naming the entry: the change's doing, not the system's.
    let failure = app.failure();
    assert!(
        failure.contains("cannot unpack archive") && failure.contains("install/lib/etc"),
        "{failure}"
    );
}
