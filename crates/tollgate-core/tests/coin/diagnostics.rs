//! Bad input gives diagnostics with file, line and column, all at once, and never a panic.
//! Each test is a set of files and the diagnostics `tollgate plan` would print.

use crate::fixtures::{memory_source, plan_at};

/// Plans `project` from files written inline (see `memory_source`) with its own platform
/// configurations, and prints the diagnostics.
fn check(files: &str, project: &str) -> String {
    let source = memory_source(files);
    let plan = plan_at(&source, project, "c0ffee", None);
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
    let files = format!(
        "{PLATFORMS}
//- example/app/coin/module_config.yaml
version: 2
instructions:
  Build:
    - type: ExecuteCommand
     command: make
"
    );
    insta::assert_snapshot!(check(&files, "example/app"), @"
    example/app/coin/module_config.yaml:5:6: error: invalid YAML: while parsing a block collection, did not find expected '-' indicator
    work items: 0
    ");
}

#[test]
fn every_problem_is_reported_at_once_and_planning_goes_on() {
    let files = format!(
        "{PLATFORMS}
//- example/app/coin/module_config.yaml
version: 2
instructions:
  Build:
    - type: ChangeDirectory
      directory: \"{{{{.SourceDir}}}}\"
      disable_if:
        condition: xor
        conditions: []
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
"
    );
    insta::assert_snapshot!(check(&files, "example/app"), @"
    example/app/coin/instructions/a.yaml:3:14: error: include cycle: example/app/coin/module_config.yaml -> example/app/coin/instructions/a.yaml -> example/app/coin/instructions/a.yaml
    example/app/coin/module_config.yaml:7:20: error: unknown condition `xor` (expected property, runtime, and, or, not)
    example/app/coin/module_config.yaml:9:13: error: unknown instruction type `ExecuteComand` (known: Group, EnvironmentVariable, AppendToEnvironmentVariable, PrependToEnvironmentVariable, ExecuteCommand, ChangeDirectory, MakeDirectory, SetBuildDirectory, WriteFile, Rename, UploadArtifact, UploadTestArtifact, InstallTestBinaryArchive, InstallBinaryArchive, InstallSourceArchive, UpdateRepo, SetEnvironmentFromScript, ParseEnvironmentVariableFromFile, CreateFileListFromDirectory, SignPackage, ScheduleUploadTestResults, RunQtUnitTest)
    example/app/coin/module_config.yaml:13:25: error: `maxTimeInSeconds` must be a number of seconds or a template, not `soon`
    example/app/coin/module_config.yaml:15:9: error: a condition needs one operator: equals_value, not_equals_value, contains_value, not_contains_value, in_values, not_in_values, equals_property, not_equals_property
    example/app/coin/module_config.yaml:18:7: error: `EnvironmentVariable` needs a `variableValue` field
    example/app/coin/module_config.yaml:20:16: error: included file `coin/instructions/missing.yaml` does not exist in example/app@c0ffee
    example/app/coin/module_config.yaml:22:16: error: include `{{qt/qtbase}}/b.yaml`: `qt/qtbase` is not part of this integration (not the project under test, the product, or a dependency)
    example/app/coin/module_config.yaml:17:9: warning: unknown field `greater_than` in a property condition; it is ignored
    work items: 1
    ");
}

#[test]
fn platform_configurations_are_checked_as_a_set() {
    let files = "
//- example/app/coin/module_config.yaml
version: 2
instructions:
  Build:
    - type: ExecuteCommand
      command: make
  Test:
    - type: ExecuteCommand
      command: make check
//- example/app/coin/platform_configs/app.yaml
Version: 2
Include: [more.yaml, missing.yaml, other.yaml: [linux-1, linux-2]]
Configurations:
- Id: linux
  Template: qtci-linux-Debian-12-x86_64-1
  Compiler: GCC
- Id: linux-tests
  Template: qtci-linux-Debian-12-x86_64-1
  Compiler: GCC
  Features: [TestOnly]
  Platform dependency: linuxx
- Id: linux
  Template: qtci-linux-Debian-12-x86_64-2
  Compiler: Clang
- Id: linux-arm
  Template: qtci-linux-Debian-12-aarch64-1
- Id: mac
  Compiler: Clang
  Environment variables: ['NOEQUALS']
Overrides:
- Id: windows
  Features: []
//- example/app/coin/platform_configs/other.yaml
Configurations:
- Id: linux-1
  Template: qtci-linux-Debian-12-x86_64-1
  Compiler: GCC
- Id: linux-3
  Template: qtci-linux-Debian-12-x86_64-1
  Compiler: GCC
//- example/app/coin/platform_configs/more.yaml
Version: 3
Include: [app.yaml]
Configurations: []
";
    insta::assert_snapshot!(check(files, "example/app"), @"
    example/app/coin/platform_configs/app.yaml:2:22: error: included platform configuration file `coin/platform_configs/missing.yaml` does not exist in example/app@c0ffee
    example/app/coin/platform_configs/app.yaml:2:36: error: `other.yaml` defines no configuration `linux-2` to include
    example/app/coin/platform_configs/app.yaml:7:3: error: `linux-tests` has unknown platform dependency `linuxx`
    example/app/coin/platform_configs/app.yaml:12:3: error: duplicate platform configuration `linux`; it is also defined at example/app/coin/platform_configs/app.yaml:4:3
    example/app/coin/platform_configs/app.yaml:15:3: error: platform configuration lacks `Compiler`
    example/app/coin/platform_configs/app.yaml:17:3: error: platform configuration lacks `Template`
    example/app/coin/platform_configs/app.yaml:19:27: error: environment variable `NOEQUALS` is not `NAME=value`
    example/app/coin/platform_configs/more.yaml:1:10: error: unsupported platform configuration `Version`; expected 2
    example/app/coin/platform_configs/more.yaml:2:11: error: include cycle: coin/platform_configs/app.yaml -> coin/platform_configs/more.yaml -> coin/platform_configs/app.yaml
    example/app/coin/platform_configs/app.yaml:21:3: warning: override of `windows`, which no included file defines; it is ignored
    work items: 5
    ");
}

#[test]
fn dependencies_that_cannot_be_had() {
    let files = format!(
        "{PLATFORMS}
//- example/app/coin/module_config.yaml
version: 2
instructions:
  Build:
    - type: ExecuteCommand
      command: make
//- example/app/dependencies.yaml
dependencies:
  ../lib:
    ref: 1111111111111111111111111111111111111111
    required: true
  ../optional:
    ref: 2222222222222222222222222222222222222222
    required: false
  ../../../../escape:
    ref: x
  ../nomodule:
    ref: 3333
//- example/nomodule/README
not a Coin module
"
    );
    insta::assert_snapshot!(check(&files, "example/app"), @"
    example/app/dependencies.yaml:2:3: error: required dependency `example/lib`: project `example/lib` is not known
    example/app/dependencies.yaml:8:3: error: `../../../../escape` does not name a project relative to `example/app`
    example/nomodule/coin/module_config.yaml:1:1: error: example/nomodule@3333 has no `coin/module_config.yaml`
    example/app/dependencies.yaml:5:3: warning: optional dependency `example/optional` is skipped: project `example/optional` is not known
    work items: 1
    ");
}

#[test]
fn templates_are_checked_when_planning() {
    let files = format!(
        "{PLATFORMS}
//- example/app/coin/module_config.yaml
version: 2
instructions:
  Build:
    - type: ExecuteCommand
      command: \"make {{{{.Env.JOBS\"
    - type: ExecuteCommand
      command: [\"{{{{frobnicate .SourceDir}}}}\"]
    - type: EnvironmentVariable
      variableName: X
      variableValue: \"{{{{.Config.host}}}}\"
"
    );
    insta::assert_snapshot!(check(&files, "example/app"), @"
    example/app/coin/module_config.yaml:5:16: error: invalid template: at character 5: unclosed action: missing `}}`
    example/app/coin/module_config.yaml:7:17: error: invalid template: at character 2: function `frobnicate` not defined
    example/app/coin/module_config.yaml:10:22: warning: template uses `.Config`, which tollgate does not provide; it fails when rendered
    work items: 1
    ");
}
