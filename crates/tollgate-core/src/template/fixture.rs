//! The context the tests render in, and their `check` helpers.

use std::collections::BTreeMap;
use std::fmt::Debug;

use super::{Context, TemplateError, render};

pub(super) struct Fixture {
    env: BTreeMap<String, String>,
}

/// A Linux agent after `prepare_building_env.yaml`, more or less.
pub(super) fn fixture() -> Fixture {
    let env = [
        ("CONFIGURE_ENV_PREFIX", ""),
        ("CONFIGURE_EXECUTABLE", "/home/qt/work/install/bin/qt-configure-module"),
        ("COIN_CONFIGURE_ARGS", ""),
        ("COIN_CMAKE_ARGS", "-DFFMPEG_DIR=/x -DQT_DEPLOY_FFMPEG=TRUE  -DQT_BUILD_TESTS=OFF"),
        ("QT_CI_ARTIFACT_ID_PATH_Android-host", "QT_CI_ARTIFACT_ID_PATH_rhel-8.10"),
        ("QT_CI_ARTIFACT_ID_PATH_rhel-8.10", "/home/qt/work/artifacts/rhel"),
        ("TESTED_MODULE_BRANCH_COIN", "tqtc/dev"),
        ("TESTED_MODULE_COIN", "qtdeclarative"),
        ("MINGW_PATH", r"C:\MINGW"),
        ("Path", r"C:\Windows"),
        ("CI_PATH_SEP", "/"),
        ("COIN_CTEST_RESULTSDIR", "/home/qt/work/ctest_results"),
        ("X", "a b"),
    ];
    Fixture { env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
}

impl Fixture {
    pub fn ctx(&self) -> Context<'_> {
        Context {
            env: &self.env,
            agent_working_dir: "/home/qt/work",
            source_dir: "/home/qt/work/qt/qtbase",
            build_dir: "/home/qt/work/qt/qtbase/build",
            install_dir: "/home/qt/work/my install",
            install_root: "/home/qt/work/install-root",
            num_cpu: 8,
            coin_download_url: "http://coin",
        }
    }
}

/// A result as tests compare it: the value's Debug form, or `error at OFFSET: MESSAGE`.
pub(super) fn show<T: Debug>(result: Result<T, TemplateError>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(e) => format!("error at {}: {}", e.offset, e.message),
    }
}

/// Renders `template` in the fixture's context.
pub(super) fn check_render(template: &str, expected: &str) {
    let fixture = fixture();
    let actual = match render(template, &fixture.ctx()) {
        Ok(text) => text,
        Err(e) => format!("error at {}: {}", e.offset, e.message),
    };
    assert_eq!(actual, expected, "rendering {template:?}");
}
