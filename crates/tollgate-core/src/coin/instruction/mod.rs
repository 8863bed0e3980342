//! Instructions: the steps of a work item (COIN-FORMAT.md §5, §6).
//!
//! String fields keep their template text; they are rendered when the instruction runs,
//! against the environment of that moment.

mod read;

pub(crate) use read::{read_instruction, read_instructions};

use crate::coin::condition::Condition;
use crate::diagnostic::Location;
pub use crate::template::Splitting;

#[derive(Clone, Debug, PartialEq)]
pub struct Instruction {
    pub kind: InstructionKind,
    pub enable_if: Option<Condition>,
    pub disable_if: Option<Condition>,
    /// `userMessageOnFailure`: what a maintainer is told when this instruction fails.
    pub user_message: Option<String>,
    /// `maxTimeInSeconds`: the hard limit.
    pub max_time: Option<Limit>,
    /// `maxTimeBetweenOutput`: the longest silence allowed.
    pub max_silence: Option<Limit>,
    /// `executeOn: always`: runs even after an earlier instruction failed.
    pub always: bool,
    pub location: Location,
}

impl Instruction {
    /// An instruction without conditions, limits or message.
    pub fn new(kind: InstructionKind, location: Location) -> Instruction {
        Instruction {
            kind,
            enable_if: None,
            disable_if: None,
            user_message: None,
            max_time: None,
            max_silence: None,
            always: false,
            location,
        }
    }
}

/// A timeout: seconds, or a template such as `"{{.Env.CMAKE_BUILD_TIMEOUT}}"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    Seconds(u64),
    Template(String),
}

/// `command: "cmake --build ."` or `command: ["cmake", "--build", "."]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    Line(String),
    List(Vec<String>),
}

/// How `EnvironmentVariable`, `AppendToEnvironmentVariable` and
/// `PrependToEnvironmentVariable` combine the value with the old one: raw concatenation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Assign {
    Set,
    Append,
    Prepend,
}

/// Which stored archive an `InstallBinaryArchive` installs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArchiveRef {
    Path(String),
    Regex(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum InstructionKind {
    Group(Vec<Instruction>),
    Variable {
        name: String,
        value: String,
        assign: Assign,
    },
    ExecuteCommand {
        command: Command,
        splitting: Splitting,
        ignore_exit_code: bool,
        in_background: bool,
        /// `resetOnFailure`: a failure is the machine's, to be retried on a fresh one.
        reset_on_failure: bool,
    },
    ChangeDirectory {
        directory: String,
    },
    MakeDirectory {
        directory: String,
    },
    SetBuildDirectory {
        directory: String,
    },
    WriteFile {
        filename: String,
        contents: String,
        mode: Option<u32>,
    },
    Rename {
        source: String,
        target: String,
    },
    UploadArtifact {
        directory: String,
        transfer: String,
        filename: Option<String>,
        filter_list: Option<String>,
    },
    UploadTestArtifact {
        directory: String,
        transfer: String,
    },
    InstallTestBinaryArchive {
        storage_path: String,
        directory: String,
    },
    InstallBinaryArchive {
        archive: ArchiveRef,
        directory: String,
    },
    InstallSourceArchive {
        project: String,
        reference: String,
        directory: String,
    },
    UpdateRepo {
        repos: Vec<String>,
    },
    SetEnvironmentFromScript {
        command: Command,
    },
    ParseEnvironmentVariableFromFile {
        filename: String,
        regex: String,
    },
    CreateFileListFromDirectory {
        directory: String,
        filter_list: String,
    },
    SignPackage {
        directory: String,
    },
    ScheduleUploadTestResults,
    RunQtUnitTest {
        command: Vec<String>,
        directory: Option<String>,
        repetitions: u32,
    },
    /// `!include "{{project}}/path"` before it is resolved.
    Include {
        spec: String,
    },
    /// An instruction that cannot be performed: unknown type, unreadable include, bad fields.
    /// The plan carries an error for it; an executor that meets it fails the work item.
    Invalid {
        reason: String,
    },
}

impl InstructionKind {
    /// The `type` as written in YAML.
    pub fn type_name(&self) -> &'static str {
        match self {
            InstructionKind::Group(_) => "Group",
            InstructionKind::Variable { assign: Assign::Set, .. } => "EnvironmentVariable",
            InstructionKind::Variable { assign: Assign::Append, .. } => {
                "AppendToEnvironmentVariable"
            }
            InstructionKind::Variable { assign: Assign::Prepend, .. } => {
                "PrependToEnvironmentVariable"
            }
            InstructionKind::ExecuteCommand { .. } => "ExecuteCommand",
            InstructionKind::ChangeDirectory { .. } => "ChangeDirectory",
            InstructionKind::MakeDirectory { .. } => "MakeDirectory",
            InstructionKind::SetBuildDirectory { .. } => "SetBuildDirectory",
            InstructionKind::WriteFile { .. } => "WriteFile",
            InstructionKind::Rename { .. } => "Rename",
            InstructionKind::UploadArtifact { .. } => "UploadArtifact",
            InstructionKind::UploadTestArtifact { .. } => "UploadTestArtifact",
            InstructionKind::InstallTestBinaryArchive { .. } => "InstallTestBinaryArchive",
            InstructionKind::InstallBinaryArchive { .. } => "InstallBinaryArchive",
            InstructionKind::InstallSourceArchive { .. } => "InstallSourceArchive",
            InstructionKind::UpdateRepo { .. } => "UpdateRepo",
            InstructionKind::SetEnvironmentFromScript { .. } => "SetEnvironmentFromScript",
            InstructionKind::ParseEnvironmentVariableFromFile { .. } => {
                "ParseEnvironmentVariableFromFile"
            }
            InstructionKind::CreateFileListFromDirectory { .. } => "CreateFileListFromDirectory",
            InstructionKind::SignPackage { .. } => "SignPackage",
            InstructionKind::ScheduleUploadTestResults => "ScheduleUploadTestResults",
            InstructionKind::RunQtUnitTest { .. } => "RunQtUnitTest",
            InstructionKind::Include { .. } => "!include",
            // Reads as "instruction cannot be performed: unknown instruction type `X`".
            InstructionKind::Invalid { .. } => "instruction",
        }
    }
}
