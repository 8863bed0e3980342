//! COIN-FORMAT.md §13: the ten behaviours a compatible runner must get right, checked on the
//! real Qt files. Behaviours 5 to 9 happen at run time and are in `runtime.rs`.

use tollgate_core::coin::instruction::{Instruction, InstructionKind};
use tollgate_core::coin::platform::read_platform_configs;
use tollgate_core::diagnostic::Diagnostics;
use tollgate_core::plan::{ConfigurationPlan, Plan, WorkItem, WorkKind};
use tollgate_core::source::RepoPath;

use crate::fixtures::*;

pub fn configuration<'a>(plan: &'a Plan, id: &str) -> &'a ConfigurationPlan {
    plan.configurations
        .iter()
        .find(|c| c.config.id == id)
        .unwrap_or_else(|| panic!("no configuration {id}"))
}

pub fn own_item<'a>(plan: &'a Plan, config: &str, kind: WorkKind) -> Option<&'a WorkItem> {
    configuration(plan, config)
        .work_items
        .iter()
        .find(|i| i.id.project == plan.project.project && i.id.kind == kind)
}

/// Every leaf instruction, in order.
pub fn leaves(list: &[Instruction]) -> Vec<&Instruction> {
    let mut out = Vec::new();
    for instruction in list {
        match &instruction.kind {
            InstructionKind::Group(children) => out.extend(leaves(children)),
            _ => out.push(instruction),
        }
    }
    out
}

/// The files the leaves of a work item come from.
fn files(item: &WorkItem) -> Vec<String> {
    let mut files: Vec<String> =
        leaves(&item.instructions).iter().map(|i| i.location.file.path.to_string()).collect();
    files.dedup();
    files
}

fn comes_from(item: &WorkItem, file: &str) -> bool {
    files(item).iter().any(|f| f.ends_with(file))
}

#[test]
fn b1_includes_resolve_at_the_pinned_revision_recursively_in_place() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");
    let build = own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap();
    let template = leaves(&build.instructions)
        .into_iter()
        .map(|i| &i.location.file)
        .find(|f| f.path.as_str() == "coin/instructions/cmake_module_build_instructions.yaml")
        .expect("the build template's instructions are there");
    // qtsvg's dependencies.yaml pins qtbase at 4678d96d; its includes are read there.
    assert_eq!(template.pin.project.as_str(), "qt/qtbase");
    assert_eq!(template.pin.revision.as_str(), revision_of("qt/qtbase"));
    // coin_module_build_template_v2 → cmake_module_build_instructions → call_configure_module
    // → prepare_configure_module_executable: four levels.
    assert!(comes_from(build, "prepare_configure_module_executable.yaml"));
    // After property conditions, before runtime ones, with the runtime-gated Axivion branch.
    assert_eq!(build.leaf_count(), 215);
    assert!(comes_from(build, "coin_module_axivion_template_v2.yaml"));
    // In place: the environment is prepared before the module is configured.
    let order = files(build);
    let position = |f: &str| order.iter().position(|x| x.ends_with(f)).unwrap();
    assert!(position("prepare_building_env.yaml") < position("call_configure_module.yaml"));
}

#[test]
fn b1_a_newer_qtbase_is_not_read() {
    let mut source = fixture_source();
    // A later qtbase whose template would break every build; qtsvg does not pin it.
    source.add_at(
        "qt/qtbase",
        "feedfacefeedfacefeedfacefeedfacefeedface",
        "coin/instructions/coin_module_build_template_v2.yaml",
        "type: Group\ninstructions: []\n",
    );
    let plan = plan_qt(&source, "qt/qtsvg");
    assert_eq!(own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap().leaf_count(), 215);
}

#[test]
fn b2_contains_is_membership_on_features_and_substring_on_strings() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");
    // `features not_contains_value: Disable` holds although the features hold `DisableTests`.
    assert!(configuration(&plan, "sles-15_sp5-static").accepted);
    assert!(own_item(&plan, "sles-15_sp5-static", WorkKind::Build).is_some());
    // `host.compiler contains_value: MSVC` selects cl.exe for MSVC2022, not for GCC.
    let uses_cl = |config: &str| {
        let build = own_item(&plan, config, WorkKind::Build).unwrap();
        leaves(&build.instructions).iter().any(|i| {
            matches!(&i.kind, InstructionKind::Variable { name, value, .. }
                if name == "COMMON_CMAKE_ARGS" && value.contains("cl.exe"))
        })
    };
    assert!(uses_cl("windows-11_23H2-msvc2022"));
    assert!(!uses_cl("ubuntu-22.04"));
}

/// Whether leaves from `file` run outside the Axivion branch, which includes the native build
/// instructions too but runs only when `AXIVION_ANALYSIS` is set.
fn builds_with(item: &WorkItem, file: &str) -> bool {
    fn walk(list: &[Instruction], file: &str) -> bool {
        list.iter().any(|i| match &i.kind {
            InstructionKind::Group(_)
                if i.location.file.path.as_str().ends_with("axivion_template_v2.yaml") =>
            {
                false
            }
            InstructionKind::Group(children) => walk(children, file),
            _ => i.location.file.path.as_str().ends_with(file),
        })
    }
    walk(&item.instructions, file)
}

#[test]
fn b3_target_properties_default_to_the_host() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");
    let native = "cmake_module_build_instructions.yaml";
    let cross = "cmake_cross_compilation_module_build_instructions.yaml";
    let build = |config: &str| own_item(&plan, config, WorkKind::Build).unwrap();
    assert!(builds_with(build("ubuntu-22.04"), native));
    assert!(!builds_with(build("ubuntu-22.04"), cross));
    assert!(!builds_with(build("android-9-x86-on-linux"), native));
    assert!(builds_with(build("android-9-x86-on-linux"), cross));
    // Windows on ARM from x86_64: `ARM64` is not the host's `X86_64`, and it is TargetBuildOnly.
    assert!(!builds_with(build("windows-11_23H2-msvc2022-arm64"), native));
    assert!(builds_with(build("windows-11_23H2-msvc2022-arm64"), cross));
    let p = &configuration(&plan, "android-9-x86-on-linux").properties;
    assert_eq!((p.target.os.as_deref(), p.target.arch.as_deref()), (Some("Android"), Some("X86")));
    assert_eq!(p.host.os_version.as_deref(), Some("RHEL_8_10"));
}

#[test]
fn b4_platform_configurations_include_override_and_add_defaults() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");
    let vxworks = &configuration(&plan, "vxworks-imx6-tests").config;
    assert_eq!(
        vxworks.features,
        ["VMSize8", "UseConfigure", "BuildTestsInTest", "TestOnly", "InsignificantTests"]
    );
    assert!(plan.configurations.iter().any(|c| c.config.id == "ubuntu-22.04-license-check"));

    let mut diagnostics = Diagnostics::default();
    let dir = RepoPath::new("coin/platform_configs").unwrap();
    let set =
        read_platform_configs(&source, &pin("qt/qt5"), &dir, "meta-qt6", &mut diagnostics).unwrap();
    assert!(set.module_only);
    assert!(!set.configurations.is_empty());
    assert!(!set.configurations.iter().any(|c| c.id.contains("license-check")));
    assert!(!diagnostics.has_errors());
}

#[test]
fn b4_configuration_counts_match_the_document() {
    let source = fixture_source();
    for (project, expected) in [
        ("qt/qtbase", 80),
        ("qt/qtsvg", 71),
        ("qt/qtdeclarative", 73),
        ("qt/qtshadertools", 71),
        ("qt/qt5", 67),
    ] {
        let plan = plan_qt(&source, project);
        assert_eq!(plan.configurations.len(), expected, "{project}");
        let errors: Vec<String> =
            plan.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{project}: {errors:#?}");
    }
}

#[test]
fn b10_work_items_follow_features_and_platform_dependency() {
    let source = fixture_source();
    let plan = plan_qt(&source, "qt/qtsvg");

    // `DoNotRunTests`: a build only, which uploads the module and its tests.
    let build = own_item(&plan, "ubuntu-22.04", WorkKind::Build).unwrap();
    assert!(own_item(&plan, "ubuntu-22.04", WorkKind::Test).is_none());
    let uploads: Vec<(String, String)> = leaves(&build.instructions)
        .iter()
        .filter_map(|i| match &i.kind {
            InstructionKind::UploadArtifact { directory, transfer, .. }
            | InstructionKind::UploadTestArtifact { directory, transfer } => {
                Some((transfer.clone(), directory.clone()))
            }
            _ => None,
        })
        .collect();
    assert!(uploads.contains(&(
        "UploadModuleBuildArtifact".into(),
        "{{.InstallRoot}}/{{.AgentWorkingDir}}".into()
    )));
    assert!(uploads.iter().any(|(t, _)| t == "UploadModuleTestsArtifact"));
    assert_eq!(
        build.depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["qt/qtbase:ubuntu-22.04:Build"]
    );

    // `TestOnly` with a platform dependency: a test only, on ubuntu-22.04's builds.
    assert!(own_item(&plan, "ubuntu-22.04-x11-tests", WorkKind::Build).is_none());
    let test = own_item(&plan, "ubuntu-22.04-x11-tests", WorkKind::Test).unwrap();
    let needs: Vec<String> = test.depends_on.iter().map(ToString::to_string).collect();
    assert_eq!(needs, ["qt/qtbase:ubuntu-22.04:Build", "qt/qtsvg:ubuntu-22.04:Build"]);
    assert!(leaves(&test.instructions).iter().any(|i| matches!(&i.kind,
        InstructionKind::InstallTestBinaryArchive { storage_path, .. }
            if storage_path == "{{.Env.MODULE_ARTIFACTS_RELATIVE_STORAGE_PATH}}/tests.tar.gz")));

    // The license check runs the four instructions of run_license_check.yaml and nothing else.
    let check = own_item(&plan, "ubuntu-22.04-license-check", WorkKind::Test).unwrap();
    let types: Vec<&str> = leaves(&check.instructions).iter().map(|i| i.kind.type_name()).collect();
    assert_eq!(
        types,
        ["ChangeDirectory", "InstallSourceArchive", "EnvironmentVariable", "ExecuteCommand"]
    );
    assert!(files(check).iter().all(|f| f.ends_with("run_license_check.yaml")));
    assert!(check.depends_on.is_empty());
}

/// `qt-creator.yaml` has rows without `Id` that differ only in their features; each is its
/// own configuration, as in Coin, not a duplicate.
#[test]
fn configurations_without_an_id_stay_apart() {
    let plan = plan_qt(&fixture_source(), "qtproject/qtsdk");
    let errors: Vec<String> =
        plan.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let windows: Vec<(&str, &[String])> = plan
        .configurations
        .iter()
        .filter(|c| c.config.id.starts_with("qtci-windows-10_22H2-x86_64-52_MSVC2022"))
        .map(|c| (c.config.id.as_str(), c.config.features.as_slice()))
        .collect();
    assert_eq!(windows.len(), 2, "{windows:?}");
    assert_eq!(windows[1].0, "qtci-windows-10_22H2-x86_64-52_MSVC2022-2");
    assert!(windows[1].1.contains(&"DisableTests".to_owned()));
}

/// `Include: [cmake_platforms.yaml: [ids]]` takes only those configurations (qt5's
/// `precheck.yaml`, `qtsaferenderer.yaml` and four more), in the included file's order, and
/// the platform dependencies they need.
#[test]
fn an_include_can_take_some_configurations_only() {
    let source = fixture_source();
    let mut diagnostics = Diagnostics::default();
    let dir = RepoPath::new("coin/platform_configs").unwrap();
    let set =
        read_platform_configs(&source, &pin("qt/qt5"), &dir, "precheck", &mut diagnostics).unwrap();
    let diagnostics: Vec<String> =
        diagnostics.into_sorted().iter().map(|d| d.message.clone()).collect();
    // precheck.yaml takes `ios-universal` but not the macOS build it depends on.
    assert_eq!(
        diagnostics,
        [
            "`ios-universal` depends on `macos-universal-on-x86_64`, which is not listed; it is included too"
        ]
    );
    let ids: Vec<&str> = set.configurations.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "macos-universal-on-x86_64",
            "ubuntu-22.04-developer-build",
            "ubuntu-22.04",
            "ubuntu-22.04-developer-build-x11-tests",
            "windows-11_23H2-msvc2022-developer-build",
            "ios-universal",
            "macos-14-arm64-developer-build",
            "macos-14-arm64-developer-build-tests",
            "android-arm64-on-macos",
            "qemu-armv7-developer-build",
            "qnx-710-x86_64-developer-build-on-linux",
        ]
    );
    assert!(set.module_only);
    // The rows are the included file's own, fields and all.
    let ubuntu = set.configurations.iter().find(|c| c.id == "ubuntu-22.04").unwrap();
    assert_eq!(ubuntu.template, "qtci-linux-Ubuntu-22.04-x86_64-51");
    assert!(ubuntu.location.file.path.as_str().ends_with("cmake_platforms.yaml"));
}
