//! Forms of the format that the shipped Qt files do not show but other projects use
//! (COIN-FORMAT.md §2, §3, §10, §11): PySide's supermodule dependencies, Qt Creator's product
//! dependency, anchor holders, version 1 module files, alias and bare-list platform files.
//! Each test plans inline files and prints what a user would look at.

use std::fmt::Write;

use tollgate_core::coin::instruction::{Instruction, InstructionKind};
use tollgate_core::plan::Plan;
use tollgate_core::source::MemorySource;

use crate::behaviours::leaves;
use crate::fixtures::{memory_source, plan_at};

fn plan_of(source: &MemorySource, project: &str, platforms: Option<(&str, &str)>) -> Plan {
    plan_at(source, project, "tip", platforms)
}

/// Modules with their pins; per configuration, each work item and its leaves with the file and
/// revision they were read from; then the diagnostics.
fn show(plan: &Plan) -> String {
    let mut out = String::new();
    for module in &plan.modules {
        let _ = writeln!(out, "module {}", module.pin);
    }
    for configuration in &plan.configurations {
        let _ = writeln!(out, "{}", configuration.config.id);
        for item in &configuration.work_items {
            let _ = writeln!(out, "  {}", item.id);
            for leaf in leaves(&item.instructions) {
                let _ = writeln!(out, "    {} {}", leaf.kind.type_name(), from(leaf));
            }
        }
    }
    for diagnostic in &plan.diagnostics {
        let _ = writeln!(out, "{diagnostic}");
    }
    out
}

fn from(leaf: &Instruction) -> String {
    let file = &leaf.location.file;
    let what = match &leaf.kind {
        InstructionKind::ExecuteCommand { command, .. } => format!("{command:?}"),
        _ => String::new(),
    };
    format!("{what} @ {}@{}:{}", file, file.pin.revision, leaf.location.position.line)
}

const LINUX: &str = "
Version: 2
Configurations:
- Id: linux
  Template: qtci-linux-RHEL-8.10-x86_64-51
  Compiler: GCC
  Features: [DoNotRunTests]
";

#[test]
fn supermodule_dependencies_take_the_products_pins() {
    let mut source = memory_source(&format!(
        r#"
//- pyside/pyside-setup/coin/dependencies.yaml
product_dependency:
  ../../qt/qt5:
    ref: "6.8"
dependency_source: supermodule
dependencies: [ "../../qt/qtbase", "../../qt/qtsvg", ]
//- pyside/pyside-setup/coin/module_config.yaml
version: 2
instructions:
  Build:
    - !include "{{{{qt/qtbase}}}}/prepare.yaml"
    - type: ExecuteCommand
      command: python3 setup.py build
//- qt/qt5/.gitmodules
[submodule "qtbase"]
	path = qtbase
	url = ../qtbase.git
[submodule "qtsvg"]
	path = qtsvg
	url = ../qtsvg.git
//- qt/qt5/coin/platform_configs/pyside-setup.yaml
{LINUX}
//- qt/qtbase@1111111111111111111111111111111111111111/coin/instructions/prepare.yaml
type: Group
instructions:
  - type: ExecuteCommand
    command: echo pinned
//- qt/qtbase/coin/instructions/prepare.yaml
type: Group
instructions:
  - type: ExecuteCommand
    command: echo some other revision
//- qt/qtbase/coin/module_config.yaml
version: 2
instructions:
  Build:
    - type: ExecuteCommand
      command: cmake --build .
//- qt/qtsvg/coin/module_config.yaml
version: 2
instructions:
  Build:
    - type: ExecuteCommand
      command: cmake --build .
"#
    ));
    source.add_submodule("qt/qt5", "qtbase", "1111111111111111111111111111111111111111");
    source.add_submodule("qt/qt5", "qtsvg", "2222222222222222222222222222222222222222");
    // pyside/pyside-setup + ../../qt/qtbase is qt/qtbase, pinned at qt5@6.8's gitlink.
    let plan = plan_of(&source, "pyside/pyside-setup", Some(("qt/qt5", "6.8")));
    insta::assert_snapshot!(show(&plan), @r#"
    module qt/qtbase@111111111111
    module qt/qtsvg@222222222222
    module pyside/pyside-setup@tip
    linux
      qt/qtbase:linux:Build
        ExecuteCommand Line("cmake --build .") @ qt/qtbase/coin/module_config.yaml@1111111111111111111111111111111111111111:4
      qt/qtsvg:linux:Build
        ExecuteCommand Line("cmake --build .") @ qt/qtsvg/coin/module_config.yaml@2222222222222222222222222222222222222222:4
      pyside/pyside-setup:linux:Build
        ExecuteCommand Line("echo pinned") @ qt/qtbase/coin/instructions/prepare.yaml@1111111111111111111111111111111111111111:3
        ExecuteCommand Line("python3 setup.py build") @ pyside/pyside-setup/coin/module_config.yaml@tip:5
    "#);
}

#[test]
fn a_product_dependency_pins_the_product_by_branch() {
    let source = memory_source(
        r#"
//- qt-creator/qt-creator/coin/product_dependencies.yaml
dependencies:
  ../../qt/qt5.git:
    ref: "6.8"
//- qt-creator/qt-creator/coin/dependencies.yaml
dependencies: {}
//- qt-creator/qt-creator/coin/module_config.yaml
version: 2
instructions:
  Build:
    - !include "{{qt/qt5}}/common.yaml"
//- qt-creator/qt-creator/coin/platform_configs/qt-creator.yaml
- Template: qtci-linux-RHEL-8.10-x86_64-51
  Compiler: GCC
//- qt/qt5@6.8/coin/instructions/common.yaml
type: Group
instructions:
  - type: ExecuteCommand
    command: echo from 6.8
//- qt/qt5/coin/instructions/common.yaml
type: Group
instructions:
  - type: ExecuteCommand
    command: echo from elsewhere
"#,
    );
    let plan = plan_of(&source, "qt-creator/qt-creator", None);
    insta::assert_snapshot!(show(&plan), @r#"
    module qt-creator/qt-creator@tip
    qtci-linux-RHEL-8.10-x86_64-51_GCC
      qt-creator/qt-creator:qtci-linux-RHEL-8.10-x86_64-51_GCC:Build
        ExecuteCommand Line("echo from 6.8") @ qt/qt5/coin/instructions/common.yaml@6.8:3
    "#);
}

#[test]
fn anchor_holders_are_not_instructions_and_aliases_copy_them() {
    let source = memory_source(
        r#"
//- pyside/pyside-setup/coin/module_config.yaml
version: 2
upload_pyside: &upload_pyside
  type: UploadArtifact
  archiveDirectory: "{{.AgentWorkingDir}}/pyside"
  transferType: UploadModuleBuildArtifact
  maxTimeInSeconds: 1200
instructions:
  Build:
    - type: ExecuteCommand
      command: python3 setup.py build
    - *upload_pyside
  Test:
    - *upload_pyside
//- pyside/pyside-setup/coin/platform_configs/pyside-setup.yaml
- Id: linux
  Template: qtci-linux-RHEL-8.10-x86_64-51
  Compiler: GCC
"#,
    );
    let plan = plan_of(&source, "pyside/pyside-setup", None);
    // No warning about the `upload_pyside` key; both lists hold the anchored instruction.
    insta::assert_snapshot!(show(&plan), @r#"
    module pyside/pyside-setup@tip
    linux
      pyside/pyside-setup:linux:Build
        ExecuteCommand Line("python3 setup.py build") @ pyside/pyside-setup/coin/module_config.yaml@tip:9
        UploadArtifact  @ pyside/pyside-setup/coin/module_config.yaml@tip:3
      pyside/pyside-setup:linux:Test
        UploadArtifact  @ pyside/pyside-setup/coin/module_config.yaml@tip:3
    "#);
}

#[test]
fn version_1_modules_and_old_platform_files() {
    let source = memory_source(
        "
//- qtproject/old/coin/module_config.yaml
build_instructions:
  - type: ExecuteCommand
    command: make
test_instructions:
  - type: ExecuteCommand
    command: make check
//- qtproject/old/coin/platform_configs/old.yaml
legacy.yaml
//- qtproject/old/coin/platform_configs/legacy.yaml
- Template: qtci-linux-Ubuntu-18.04-x86_64-1
  Compiler: GCC
- Template: qtci-windows-10-x86_64-1
  Compiler: MSVC2017
  Features: [DisableTests]
",
    );
    // `old.yaml` is an alias for `legacy.yaml`, the bare list of the form before `Version: 2`;
    // rows without `Id` are named by template and compiler.
    let plan = plan_of(&source, "qtproject/old", None);
    insta::assert_snapshot!(show(&plan), @r#"
    module qtproject/old@tip
    qtci-linux-Ubuntu-18.04-x86_64-1_GCC
      qtproject/old:qtci-linux-Ubuntu-18.04-x86_64-1_GCC:Build
        ExecuteCommand Line("make") @ qtproject/old/coin/module_config.yaml@tip:2
      qtproject/old:qtci-linux-Ubuntu-18.04-x86_64-1_GCC:Test
        ExecuteCommand Line("make check") @ qtproject/old/coin/module_config.yaml@tip:5
    qtci-windows-10-x86_64-1_MSVC2017
      qtproject/old:qtci-windows-10-x86_64-1_MSVC2017:Build
        ExecuteCommand Line("make") @ qtproject/old/coin/module_config.yaml@tip:2
    "#);
}
