//! Bad input gives diagnostics with file, line and column, all at once, and never a panic.
//! Each test is a set of files and the diagnostics `tollgate plan` would print.

use tollgate_core::plan::{PlanRequest, plan};
use tollgate_core::source::{MemorySource, Pin, ProjectName, Revision};

/// Files written as `//- project/owner/path` headers followed by content; the project is
/// planned with its own platform configurations.
fn check(files: &str, project: &str) -> String {
    let mut source = MemorySource::new();
    let mut current: Option<(String, String, String)> = None;
    let mut flush = |entry: Option<(String, String, String)>| {
        if let Some((project, path, content)) = entry {
            source.add(&project, &path, content);
        }
    };
    for line in files.lines() {
        if let Some(header) = line.strip_prefix("//- ") {
            flush(current.take());
            let mut parts = header.trim().splitn(3, '/');
            let (owner, name, path) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            current = Some((format!("{owner}/{name}"), path.to_owned(), String::new()));
        } else if let Some((_, _, content)) = current.as_mut() {
            content.push_str(line);
            content.push('\n');
        }
    }
    flush(current);
    let pin = Pin::new(ProjectName::new(project).unwrap(), Revision::new("c0ffee"));
    let plan = plan(&source, &PlanRequest { project: pin, platforms: None, salt: "test".into() }).unwrap();
    let mut out: Vec<String> = plan.diagnostics.iter().map(ToString::to_string).collect();
    out.push(format!("work items: {}", plan.work_items().count()));
    out.join("\n")
}

const PLATFORMS: &str = "
//- example/app/coin/platform_configs/app.yaml
Version: 2
Configurations:
- Id: linux
  Template: qtci-linux-Debian-12-x86_64-1
  Compiler: GCC
";

#[test]
fn invalid_yaml_names_the_line_and_column() {
    let files = format!("{PLATFORMS}
//- example/app/coin/module_config.yaml
version: 2
instructions:
  Build:
    - type: ExecuteCommand
     command: make
");
    insta::assert_snapshot!(check(&files, "example/app"), @r"
    example/app/coin/module_config.yaml:5:6: error: invalid YAML: mapping values are not allowed in this context
    work items: 0
    ");
}

#[test]
fn every_problem_is_reported_at_once_and_planning_goes_on() {
    let files = format!("{PLATFORMS}
//- example/app/coin/module_config.yaml
version: 2
accept_configuration:
  condition: xor
  conditions: []
instructions:
  Build:
    - type: ExecuteComand
      command: make
    - type: ExecuteCommand
      command: make test
      maxTimeInSeconds: soon
      enable_if:
        condition: property
        property: features
        greater_than: 3
    - type: EnvironmentVariable
      variableName: X
    - !include \"{{{{example/app}}}}/missing.yaml\"
    - !include \"{{{{example/app}}}}/a.yaml\"
    - !include \"{{{{qt/qtbase}}}}/b.yaml\"
//- example/app/coin/instructions/a.yaml
type: Group
instructions:
  - !include \"{{{{example/app}}}}/a.yaml\"
");
    insta::assert_snapshot!(check(&files, "example/app"), @r"
    example/app/coin/instructions/a.yaml:3:14: error: include cycle: example/app/coin/module_config.yaml -> example/app/coin/instructions/a.yaml -> example/app/coin/instructions/a.yaml
    example/app/coin/module_config.yaml:4:14: error: unknown condition `xor` (expected property, runtime, and, or, not)
    example/app/coin/module_config.yaml:8:13: error: unknown instruction type `ExecuteComand` (known: Group, EnvironmentVariable, AppendToEnvironmentVariable, PrependToEnvironmentVariable, ExecuteCommand, ChangeDirectory, MakeDirectory, SetBuildDirectory, WriteFile, Rename, UploadArtifact, UploadTestArtifact, InstallTestBinaryArchive, InstallBinaryArchive, InstallSourceArchive, UpdateRepo, SetEnvironmentFromScript, ParseEnvironmentVariableFromFile, CreateFileListFromDirectory, SignPackage, ScheduleUploadTestResults, RunQtUnitTest)
    example/app/coin/module_config.yaml:12:25: error: `maxTimeInSeconds` must be a number of seconds or a template, not `soon`
    example/app/coin/module_config.yaml:14:9: error: a condition needs one operator: equals_value, not_equals_value, contains_value, not_contains_value, in_values, not_in_values, equals_property, not_equals_property
    example/app/coin/module_config.yaml:17:9: warning: unknown field `greater_than` in a property condition; it is ignored
    example/app/coin/module_config.yaml:18:7: error: a EnvironmentVariable instruction needs a `variableValue` field
    example/app/coin/module_config.yaml:20:16: error: included file `coin/instructions/missing.yaml` does not exist in example/app@c0ffee
    example/app/coin/module_config.yaml:22:16: error: include `{{qt/qtbase}}/b.yaml`: `qt/qtbase` is not part of this integration (not the project under test, the product, or a dependency)
    work items: 0
    ");
}
