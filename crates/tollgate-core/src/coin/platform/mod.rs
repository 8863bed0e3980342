//! Platform configurations (COIN-FORMAT.md §10): the rows of the build matrix.
//!
//! They live in a product repository (`qt/qt5:coin/platform_configs/<module>.yaml`), or in the
//! project's own `coin/platform_configs/`. [`read_platform_configs`] gives a module's set:
//! includes first, then the file's own configurations, then overrides by `Id`, then
//! `default.yaml` unless `Module only`.

mod file;
mod resolve;

pub use resolve::{PlatformSet, read_platform_configs};

use crate::diagnostic::Location;

/// One platform configuration, with every field as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformConfig {
    pub id: String,
    /// The file gave no `Id` (files older than 2019, and `qt-creator.yaml` today); `id` was
    /// made from the template and the compiler.
    pub id_generated: bool,
    /// The machine image its agents are cloned from.
    pub template: String,
    pub compiler: String,
    pub target_os: Option<String>,
    pub target_arch: Option<String>,
    pub target_compiler: Option<String>,
    pub features: Vec<String>,
    /// Exported to the work item as `CONFIGURE_ARGS`.
    pub configure_arguments: Option<String>,
    /// `NAME=value` pairs, in order; values are templates rendered against the machine's
    /// environment.
    pub environment: Vec<(String, String)>,
    /// A script whose resulting environment is imported before the first instruction.
    pub environment_script: Vec<String>,
    /// The configurations whose builds this one consumes.
    pub platform_dependency: Vec<String>,
    /// Where it was defined, or last overridden.
    pub location: Location,
}

impl PlatformConfig {
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}
