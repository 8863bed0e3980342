//! What a session asks the executor to do, and what the executor reports back.
//!
//! Every path in an action is absolute (relative paths were resolved against the session's
//! current directory) and every template is rendered: the executor interprets nothing.

use std::collections::BTreeMap;
use std::time::Duration;

/// One step that touches the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `ExecuteCommand`: run argv directly, without a shell.
    Execute(Execute),
    /// `RunQtUnitTest`: run a test command, re-running it up to `repetitions` times on failure
    /// (Coin's flaky-test allowance).
    RunTests {
        execute: Execute,
        repetitions: u32,
    },
    /// `ChangeDirectory`: the folder must exist. On success the session moves there.
    ChangeDirectory {
        path: String,
    },
    /// `MakeDirectory`: `mkdir -p`.
    MakeDirectory {
        path: String,
    },
    /// `WriteFile`, with the mode as Unix permission bits.
    WriteFile {
        path: String,
        contents: String,
        mode: Option<u32>,
    },
    Rename {
        from: String,
        to: String,
    },
    /// `UploadArtifact` / `UploadTestArtifact`: archive the folder and store it under the
    /// transfer type (`UploadModuleBuildArtifact`, `UploadModuleTestsArtifact`, ...).
    Upload {
        directory: String,
        transfer: String,
        /// `GenericArtifactWithName`'s name.
        name: Option<String>,
        /// Upload only files not in this list (made by `CreateFileListFromDirectory`).
        filter_list: Option<String>,
    },
    /// `InstallTestBinaryArchive` / `InstallBinaryArchive`: fetch a stored archive and unpack it.
    InstallArchive {
        source: ArchiveSource,
        directory: String,
    },
    /// `InstallSourceArchive`: another project's sources at a ref, unpacked into the folder.
    InstallSources {
        project: String,
        reference: String,
        directory: String,
    },
    /// `UpdateRepo`: refresh the mirrors of these projects before commands clone from them.
    UpdateRepos {
        repos: Vec<String>,
    },
    /// `SetEnvironmentFromScript` and a configuration's `Environment script`: run the script
    /// and report the environment it leaves with [`Report::Environment`].
    EnvironmentFromScript {
        execute: Execute,
    },
    /// `ParseEnvironmentVariableFromFile`: match the regex against the file and report its
    /// named groups with [`Report::Environment`].
    ParseEnvironmentFromFile {
        path: String,
        regex: String,
    },
    /// `CreateFileListFromDirectory`: remember the files now in the folder under a name.
    CreateFileList {
        directory: String,
        list: String,
    },
    /// `SignPackage`: code signing; an executor without signing keys may do nothing.
    SignPackage {
        directory: String,
    },
}

/// A process to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execute {
    pub argv: Vec<String>,
    pub cwd: String,
    /// The whole environment, not a difference.
    pub env: BTreeMap<String, String>,
    /// `maxTimeInSeconds`; `None` leaves it to the executor's default.
    pub max_time: Option<Duration>,
    /// `maxTimeBetweenOutput`.
    pub max_silence: Option<Duration>,
    /// `startInBackground`: start it and report at once; it runs on beside the work item.
    pub in_background: bool,
}

/// Which stored archive to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveSource {
    /// A path relative to the artifact storage, such as `artifacts/<key>/tests.tar.gz`.
    Path(String),
    /// The archive whose name matches a regex (`InstallBinaryArchive` with `regex`).
    Regex(String),
}

/// What happened to an action, as the executor saw it. The session decides what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// The action was done (a process exited with status 0).
    Done,
    /// The process exited with this status; 0 is the same as [`Report::Done`].
    Exited(i32),
    /// The process was killed by this signal (it crashed, or something outside killed it).
    Signalled(i32),
    /// The executor killed the process when a limit ran out.
    TimedOut(Timeout),
    /// The action was done and set these variables. After a script (`SetEnvironmentFromScript`)
    /// this is the whole environment it left; after `ParseEnvironmentVariableFromFile`, the
    /// variables it found.
    Environment(BTreeMap<String, String>),
    /// The action could not be done because of what the change asked for: a folder that does
    /// not exist, an archive that was never uploaded, a file the regex does not match.
    Failed(String),
    /// The system failed: a sandbox that would not start, a full disk, a store out of reach.
    /// The work item ends at once, and the change is not blamed.
    Error(String),
    /// The work item was cancelled while this action ran.
    Cancelled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// `maxTimeInSeconds` ran out.
    Total,
    /// `maxTimeBetweenOutput` ran out.
    Silence,
}
