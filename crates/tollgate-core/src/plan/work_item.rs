//! Work items: one unit of execution of one module on one platform configuration.

use std::fmt;

use crate::coin::instruction::Instruction;
use crate::plan::build_key::BuildKey;
use crate::plan::expand::leaf_count;
use crate::source::{Pin, ProjectName, TreeId};

/// `Build`, `Test`, or another kind a module defines (`LicenseCheck`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkKind {
    Build,
    Test,
    Other(String),
}

impl WorkKind {
    pub fn new(name: &str) -> WorkKind {
        match name {
            "Build" => WorkKind::Build,
            "Test" => WorkKind::Test,
            other => WorkKind::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            WorkKind::Build => "Build",
            WorkKind::Test => "Test",
            WorkKind::Other(name) => name,
        }
    }
}

impl fmt::Display for WorkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `qt/qtsvg:ubuntu-22.04:Build`. Neither project names nor configuration ids contain `:`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkItemId {
    pub project: ProjectName,
    pub config: String,
    pub kind: WorkKind,
}

impl WorkItemId {
    pub fn new(project: &ProjectName, config: &str, kind: WorkKind) -> WorkItemId {
        WorkItemId { project: project.clone(), config: config.to_owned(), kind }
    }
}

impl fmt::Display for WorkItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.project, self.config, self.kind)
    }
}

/// The size of machine a work item asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MachineSize {
    pub cores: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkItem {
    pub id: WorkItemId,
    /// The module it builds or tests, at its revision.
    pub module: Pin,
    pub tree: TreeId,
    /// The module asks for a git clone of its sources (`tags: [git]`) instead of a source
    /// archive; its build key then includes the commit.
    pub git_clone: bool,
    /// A failure of a significant work item rejects the integration.
    pub significant: bool,
    pub machine: MachineSize,
    /// Work items whose results it needs: the builds whose artifacts it installs.
    pub depends_on: Vec<WorkItemId>,
    /// The instructions after the configuration's conditions were decided.
    pub instructions: Vec<Instruction>,
    pub build_key: BuildKey,
}

impl WorkItem {
    pub fn leaf_count(&self) -> usize {
        leaf_count(&self.instructions)
    }
}
