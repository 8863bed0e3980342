//! The local agent of one work item: it performs the session's actions in the workspace.
//!
//! Processes run in the sandbox. What the runner does itself (folders, files, archives) happens
//! on the host, so every path is first mapped into the workspace and checked not to lead out of
//! it through a link: the runner may hold more rights than the sandbox gives the build.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;
use tokio::task::spawn_blocking;
use tokio_util::sync::CancellationToken;
use tollgate_core::plan::BuildKey;
use tollgate_core::run::{Action, ArchiveSource, Execute, Report};
use tollgate_core::source::{Pin, ProjectName, Source, SourceError};
use tollgate_sources::SourcesDir;
use tollgate_store::{Digest, Record, Store};

use crate::log::Log;
use crate::process::{self, Background, Ended, Limits};
use crate::sandbox::{Mounts, Sandbox};
use crate::workspace::Workspace;

pub(crate) struct Agent {
    pub workspace: Workspace,
    pub sandbox: Sandbox,
    pub store: Arc<dyn Store>,
    pub sources: Arc<SourcesDir>,
    pub log: Log,
    pub network: bool,
    pub writable: Vec<PathBuf>,
    pub hidden: Vec<PathBuf>,
    /// The runner's folder for temporary archives, outside every workspace.
    pub scratch: PathBuf,
    /// The integration's branch, for `InstallSourceArchive`'s `CURRENT_BRANCH`.
    pub branch: Option<String>,
    /// The stored results of the builds this work item depends on.
    pub dependencies: Vec<Record>,
    /// Archives this work item uploaded, by name.
    pub artifacts: BTreeMap<String, Digest>,
    /// The tests its uploaded test results name.
    pub tests: Vec<tollgate_api::TestResult>,
    /// `CreateFileListFromDirectory`: the files a folder held, by list name.
    file_lists: HashMap<String, BTreeSet<PathBuf>>,
    background: Vec<Background>,
}

impl Agent {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        workspace: Workspace,
        sandbox: Sandbox,
        store: Arc<dyn Store>,
        sources: Arc<SourcesDir>,
        log: Log,
        network: bool,
        writable: Vec<PathBuf>,
        hidden: Vec<PathBuf>,
        scratch: PathBuf,
        branch: Option<String>,
    ) -> Agent {
        Agent {
            workspace,
            sandbox,
            store,
            sources,
            log,
            network,
            writable,
            hidden,
            scratch,
            branch,
            dependencies: Vec::new(),
            artifacts: BTreeMap::new(),
            tests: Vec::new(),
            file_lists: HashMap::new(),
            background: Vec::new(),
        }
    }

    pub async fn perform(&mut self, action: &Action, cancel: &CancellationToken) -> Report {
        match self.try_perform(action, cancel).await {
            Ok(report) | Err(report) => report,
        }
    }

    /// Stops what the work item started in the background.
    pub async fn stop_background(&mut self) {
        for background in self.background.drain(..) {
            background.stop().await;
        }
    }

    async fn try_perform(
        &mut self,
        action: &Action,
        cancel: &CancellationToken,
    ) -> Result<Report, Report> {
        match action {
            Action::Execute(execute) if execute.in_background => {
                let command = self.command(&execute.argv, execute)?;
                let started_line = self.sandbox.started_line();
                let background = process::start_background(command, &self.log, started_line)
                    .map_err(|error| not_started(&execute.argv, error))?;
                self.background.push(background);
                Ok(Report::Done)
            }
            Action::Execute(execute) => {
                Ok(self.execute(&execute.argv, execute, cancel, false).await.0)
            }
            Action::RunTests { execute, repetitions } => {
                let attempts = repetitions.saturating_add(1);
                let mut report = Report::Done;
                for attempt in 1..=attempts {
                    report = self.execute(&execute.argv, execute, cancel, false).await.0;
                    if !matches!(report, Report::Exited(code) if code != 0) || attempt == attempts {
                        break;
                    }
                    self.log.sys(&format!("tests failed; running them again ({attempt} of {repetitions} repetitions allowed)"));
                }
                Ok(report)
            }
            Action::EnvironmentFromScript { execute } => {
                // The script is sourced so that what it exports stays; its output goes to the
                // log and the environment it leaves comes back NUL-separated on stdout.
                let mut argv = vec![
                    "/bin/sh".to_owned(),
                    "-c".to_owned(),
                    "f=$1; shift; . \"$f\" >&2 && env -0".to_owned(),
                    "sh".to_owned(),
                ];
                argv.extend(execute.argv.iter().cloned());
                match self.execute(&argv, execute, cancel, true).await {
                    (Report::Done, stdout) => Ok(Report::Environment(parse_env(&stdout))),
                    (other, _) => Ok(other),
                }
            }
            Action::ChangeDirectory { path } => {
                let host = self.host(path)?;
                match host.is_dir() {
                    true => Ok(Report::Done),
                    false => Err(Report::Failed(format!("there is no folder `{path}`"))),
                }
            }
            Action::MakeDirectory { path } => {
                let host = self.host(path)?;
                fs::create_dir_all(&host).map_err(|e| io_report(&format!("mkdir {path}"), e))?;
                Ok(Report::Done)
            }
            Action::WriteFile { path, contents, mode } => {
                let host = self.host(path)?;
                write_file(&host, contents, *mode)
                    .map_err(|e| io_report(&format!("write {path}"), e))?;
                Ok(Report::Done)
            }
            Action::Rename { from, to } => {
                let (source, target) = (self.host(from)?, self.host(to)?);
                fs::rename(&source, &target)
                    .map_err(|e| io_report(&format!("rename {from} to {to}"), e))?;
                Ok(Report::Done)
            }
            Action::Upload { directory, transfer, name, filter_list } => {
                let name = artifact_name(transfer, name.as_deref())?;
                let host = self.host(directory)?;
                if !host.is_dir() {
                    return Err(Report::Failed(format!(
                        "there is no folder `{directory}` to upload"
                    )));
                }
                let exclude = match filter_list {
                    Some(list) => self.listed_under(list, &host)?,
                    None => BTreeSet::new(),
                };
                let digest = self.upload(host, exclude).await?;
                self.log.sys(&format!("uploaded {directory} as {name} ({digest})"));
                self.artifacts.insert(name, digest);
                Ok(Report::Done)
            }
            Action::InstallArchive { source, directory } => {
                let digest = self.find_archive(source).await?;
                let host = self.host(directory)?;
                self.install(&digest, host).await?;
                self.log.sys(&format!("installed {} into {directory}", show(source)));
                Ok(Report::Done)
            }
            Action::InstallSources { project, reference, directory } => {
                let host = self.host(directory)?;
                self.install_sources(project, reference, host).await?;
                Ok(Report::Done)
            }
            Action::UpdateRepos { repos } => {
                self.log.sys(&format!(
                    "the sources folder is read directly; nothing to refresh for {}",
                    repos.join(", ")
                ));
                Ok(Report::Done)
            }
            Action::ParseEnvironmentFromFile { path, regex } => {
                let host = self.host(path)?;
                let text =
                    fs::read_to_string(&host).map_err(|e| io_report(&format!("read {path}"), e))?;
                parse_with_regex(&text, regex, path).map(Report::Environment)
            }
            Action::CreateFileList { directory, list } => {
                let host = self.host(directory)?;
                let files =
                    list_files(&host).map_err(|e| io_report(&format!("list {directory}"), e))?;
                self.file_lists.insert(list.clone(), files);
                Ok(Report::Done)
            }
            Action::SignPackage { directory } => {
                self.log
                    .sys(&format!("no code signing on this agent; {directory} is left unsigned"));
                Ok(Report::Done)
            }
        }
    }

    /// Runs `argv` in the sandbox with `execute`'s directory, environment and limits, to its
    /// end, and says what happened; with `capture`, stdout comes back instead of going to the
    /// log.
    async fn execute(
        &self,
        argv: &[String],
        execute: &Execute,
        cancel: &CancellationToken,
        capture: bool,
    ) -> (Report, Vec<u8>) {
        let command = match self.command(argv, execute) {
            Ok(command) => command,
            Err(report) => return (report, Vec::new()),
        };
        let started_line = self.sandbox.started_line();
        let run =
            process::run(command, limits(execute), cancel, &self.log, capture, started_line).await;
        (report(run.ended, run.started, argv), run.stdout)
    }

    fn command(
        &self,
        argv: &[String],
        execute: &Execute,
    ) -> Result<tokio::process::Command, Report> {
        self.sandbox
            .command(&self.workspace, argv, &execute.cwd, &execute.env, &self.mounts())
            .map_err(Report::Failed)
    }

    fn mounts(&self) -> Mounts<'_> {
        Mounts { network: self.network, writable: &self.writable, hidden: &self.hidden }
    }

    /// The host path of an agent path, refused when it is not the work item's, also through a
    /// link.
    fn host(&self, path: &str) -> Result<PathBuf, Report> {
        let plain = self.workspace.plain_path(path).map_err(Report::Failed)?;
        let mut existing = plain.as_path();
        while fs::symlink_metadata(self.workspace.reach(existing)).is_err() {
            match existing.parent() {
                Some(parent) => existing = parent,
                None => break,
            }
        }
        let resolved = self.workspace.resolve(existing).map_err(|e| io_report(path, e))?;
        if !resolved.starts_with(self.workspace.root()) {
            return Err(Report::Failed(format!(
                "`{path}` leads out of the work item's folders through a link"
            )));
        }
        Ok(self.workspace.reach(&plain))
    }

    /// The files of list `name` that lie under `dir`, relative to it.
    fn listed_under(&self, name: &str, dir: &Path) -> Result<BTreeSet<PathBuf>, Report> {
        let Some(files) = self.file_lists.get(name) else {
            return Err(Report::Failed(format!(
                "no file list `{name}`: CreateFileListFromDirectory did not make one"
            )));
        };
        Ok(files.iter().filter_map(|f| f.strip_prefix(dir).ok().map(Path::to_owned)).collect())
    }

    async fn upload(&self, dir: PathBuf, exclude: BTreeSet<PathBuf>) -> Result<Digest, Report> {
        let store = self.store.clone();
        let archive = temp_path(&self.scratch, "upload");
        blocking(move || {
            let packed = tollgate_store::pack(&dir, &archive, &exclude).map_err(|error| {
                let message = format!("cannot archive {}: {error}", dir.display());
                if error.is_system() { Report::Error(message) } else { Report::Failed(message) }
            });
            let stored = packed.and_then(|()| {
                store
                    .put_file(&archive)
                    .map_err(|e| Report::Error(format!("cannot store an archive: {e}")))
            });
            let _ = fs::remove_file(&archive);
            stored
        })
        .await
    }

    /// The stored archive an install names: `artifacts/<build key>/<name>` (what
    /// `MODULE_ARTIFACTS_RELATIVE_STORAGE_PATH` holds), or a name matching a regex among the
    /// archives of the builds this work item depends on.
    async fn find_archive(&self, source: &ArchiveSource) -> Result<Digest, Report> {
        match source {
            ArchiveSource::Path(path) => {
                let trimmed = path.trim_start_matches('/');
                let parsed =
                    trimmed.strip_prefix("artifacts/").and_then(|rest| rest.split_once('/'));
                let Some((key, name)) = parsed.and_then(|(k, n)| Some((BuildKey::from_hex(k)?, n)))
                else {
                    return Err(Report::Failed(format!(
                        "`{path}` is not a stored artifact (artifacts/<build key>/<name>)"
                    )));
                };
                let store = self.store.clone();
                let record = blocking(move || {
                    store
                        .record(&key)
                        .map_err(|e| Report::Error(format!("cannot read the store: {e}")))
                })
                .await?;
                record
                    .and_then(|record| record.artifacts.get(name).copied())
                    .ok_or_else(|| Report::Failed(format!("no archive was stored as `{path}`")))
            }
            ArchiveSource::Regex(pattern) => {
                let regex = Regex::new(pattern)
                    .map_err(|e| Report::Failed(format!("invalid `regex` {pattern:?}: {e}")))?;
                self.dependencies
                    .iter()
                    .flat_map(|record| &record.artifacts)
                    .find(|(name, _)| regex.is_match(name))
                    .map(|(_, digest)| *digest)
                    .ok_or_else(|| {
                        Report::Failed(format!(
                            "no stored archive of the builds this one uses matches {pattern:?}"
                        ))
                    })
            }
        }
    }

    /// Unpacks a stored archive into a folder of the workspace.
    pub async fn install(&self, digest: &Digest, dir: PathBuf) -> Result<(), Report> {
        let store = self.store.clone();
        let archive = temp_path(&self.scratch, "install");
        let digest = *digest;
        blocking(move || {
            let result = match store.fetch(&digest, &archive) {
                Ok(true) => tollgate_store::unpack(&archive, &dir).map_err(|error| {
                    let message = format!("cannot unpack archive {digest}: {error}");
                    if error.is_system() { Report::Error(message) } else { Report::Failed(message) }
                }),
                Ok(false) => Err(Report::Error(format!("the store has lost archive {digest}"))),
                Err(error) => Err(Report::Error(format!("cannot read the store: {error}"))),
            };
            let _ = fs::remove_file(&archive);
            result
        })
        .await
    }

    async fn install_sources(
        &self,
        project: &str,
        reference: &str,
        dir: PathBuf,
    ) -> Result<(), Report> {
        let Some(name) = ProjectName::new(project) else {
            return Err(Report::Failed(format!("`{project}` is not a project name")));
        };
        let reference = match reference {
            "CURRENT_BRANCH" => self.branch.clone().unwrap_or_else(|| "HEAD".to_owned()),
            other => other.to_owned(),
        };
        let sources = self.sources.clone();
        let log = self.log.clone();
        blocking(move || {
            let fact = |e: SourceError| match e {
                SourceError::Unavailable(_) => Report::Error(e.to_string()),
                other => Report::Failed(other.to_string()),
            };
            let revision = sources.resolve(&name, &reference).map_err(fact)?;
            let pin = Pin::new(name, revision);
            sources.export(&pin, &dir).map_err(fact)?;
            log.sys(&format!("installed the sources of {pin} into {}", dir.display()));
            Ok(())
        })
        .await
    }
}

/// What a process's end means. A non-zero exit before the sandbox came up is the system's.
fn report(ended: Ended, started: bool, argv: &[String]) -> Report {
    match ended {
        Ended::Exited(0) => Report::Done,
        Ended::Exited(code) if !started => Report::Error(format!(
            "the sandbox did not start (bwrap exited with {code}); see the log"
        )),
        Ended::Exited(code) => Report::Exited(code),
        Ended::Signalled(signal) => Report::Signalled(signal),
        Ended::TimedOut(which) => Report::TimedOut(which),
        Ended::Cancelled => Report::Cancelled,
        Ended::NotStarted(error) => not_started(argv, error),
        Ended::Lost(error) => Report::Error(format!("lost the process {}: {error}", argv[0])),
    }
}

fn limits(execute: &Execute) -> Limits {
    Limits { max_time: execute.max_time, max_silence: execute.max_silence }
}

/// Coin's names for what `UploadArtifact` stores; `InstallTestBinaryArchive` asks for
/// `…/tests.tar.gz`. The bytes are tar+zstd whatever the name says.
fn artifact_name(transfer: &str, name: Option<&str>) -> Result<String, Report> {
    match (transfer, name) {
        ("UploadModuleBuildArtifact", _) => Ok("artifacts.tar.gz".to_owned()),
        ("UploadModuleTestsArtifact", _) => Ok("tests.tar.gz".to_owned()),
        ("UploadModuleDocumentation", _) => Ok("docs.tar.gz".to_owned()),
        ("GenericArtifactWithName", Some(name)) if !name.contains('/') && !name.is_empty() => {
            Ok(name.to_owned())
        }
        ("GenericArtifactWithName", _) => {
            Err(Report::Failed("GenericArtifactWithName needs a `filename` without `/`".to_owned()))
        }
        (other, _) => Err(Report::Failed(format!("unknown `transferType` {other}"))),
    }
}

fn show(source: &ArchiveSource) -> String {
    match source {
        ArchiveSource::Path(path) => path.clone(),
        ArchiveSource::Regex(regex) => format!("the archive matching {regex:?}"),
    }
}

fn not_started(argv: &[String], error: io::Error) -> Report {
    match error.kind() {
        // The program the change names does not exist, or is not executable.
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => {
            Report::Failed(format!("cannot start `{}`: {error}", argv[0]))
        }
        _ => Report::Error(format!("cannot start `{}`: {error}", argv[0])),
    }
}

/// A full disk or a read-only file system is the machine's fault; a missing file the change's.
fn io_report(what: &str, error: io::Error) -> Report {
    use io::ErrorKind as K;
    match error.kind() {
        K::StorageFull | K::QuotaExceeded | K::OutOfMemory | K::ReadOnlyFilesystem => {
            Report::Error(format!("{what}: {error}"))
        }
        _ => Report::Failed(format!("{what}: {error}")),
    }
}

fn write_file(path: &Path, contents: &str, mode: Option<u32>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, contents)?;
    if let Some(mode) = mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Every file under `dir` (links not followed), as host paths.
fn list_files(dir: &Path) -> io::Result<BTreeSet<PathBuf>> {
    let mut files = BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in fs::read_dir(&next)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                files.insert(entry.path());
            }
        }
    }
    Ok(files)
}

/// `env -0` output: `NAME=value\0` entries.
fn parse_env(bytes: &[u8]) -> BTreeMap<String, String> {
    bytes
        .split(|&b| b == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (name, value) = entry.split_once('=')?;
            (!name.is_empty()).then(|| (name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The named groups of the regex's first match: `(?P<QT_REPO_MODULE_VERSION>[0-9.]+)`.
fn parse_with_regex(
    text: &str,
    pattern: &str,
    path: &str,
) -> Result<BTreeMap<String, String>, Report> {
    let regex = Regex::new(pattern)
        .map_err(|e| Report::Failed(format!("invalid `regex` {pattern:?}: {e}")))?;
    let Some(captures) = regex.captures(text) else {
        return Err(Report::Failed(format!("`regex` {pattern:?} matches nothing in {path}")));
    };
    let vars: BTreeMap<String, String> = regex
        .capture_names()
        .flatten()
        .filter_map(|name| Some((name.to_owned(), captures.name(name)?.as_str().to_owned())))
        .collect();
    match vars.is_empty() {
        true => Err(Report::Failed(format!("`regex` {pattern:?} has no named group (?P<NAME>…)"))),
        false => Ok(vars),
    }
}

fn temp_path(dir: &Path, what: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    dir.join(format!("{what}-{}.tar.zst", COUNTER.fetch_add(1, Ordering::Relaxed)))
}

/// Runs blocking work (archives, the store) off the async threads. A panic there is the
/// system's fault.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Report> + Send + 'static,
) -> Result<T, Report> {
    spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Err(Report::Error(format!("an internal task failed: {error}"))))
}
