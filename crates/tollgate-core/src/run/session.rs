//! The session: a work item's instructions, one step at a time.
//!
//! The executor loops: `step()` gives a [`Step`]; for [`Step::Act`] it performs the action and
//! calls `finish()` with a [`Report`]; [`Step::Note`] is for its log; [`Step::Done`] ends the
//! work item. The session never blocks and never touches the machine.

use std::collections::BTreeMap;
use std::time::Duration;

use super::action::{Action, ArchiveSource, Execute, Report, Timeout};
use super::layout::Layout;
use super::verdict::{Failure, Outcome, Verdict};
use crate::coin::condition::{Runtime, evaluate};
use crate::coin::instruction::{ArchiveRef, Assign, Command, Instruction, InstructionKind, Limit};
use crate::coin::properties::Properties;
use crate::plan::{ConfigurationPlan, WorkItem};
use crate::template::{CommandForm, Context, Splitting, command_argv, render};

/// What the executor is to do next.
#[derive(Debug)]
pub enum Step<'a> {
    /// Perform the action, then call [`Session::finish`].
    Act { instruction: &'a Instruction, action: Action },
    /// Something the session decided or did by itself, for the log.
    Note { instruction: &'a Instruction, note: Note },
    /// Nothing is left to do.
    Done(Verdict),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Its `enable_if` is false or its `disable_if` true, in the live environment.
    Skipped,
    /// An earlier instruction failed, and this one is not `executeOn: always`.
    SkippedAfterFailure,
    /// An environment variable set, the build directory, a registration.
    Applied(String),
    /// It failed before reaching the machine: a template that does not render, a timeout that
    /// is not a number, an instruction that cannot be performed.
    Failed(Failure),
}

pub struct Session<'a> {
    properties: &'a Properties,
    layout: Layout,
    env: BTreeMap<String, String>,
    cwd: String,
    build_dir: String,
    /// The lists being walked, innermost last.
    stack: Vec<Frame<'a>>,
    /// The action handed out and not yet reported.
    pending: Option<Pending<'a>>,
    /// The first failure. After it only `executeOn: always` instructions run.
    failure: Option<Failure>,
    /// An error or a cancellation: nothing more runs.
    stopped: Option<Outcome>,
    upload_test_results: bool,
}

struct Frame<'a> {
    items: std::slice::Iter<'a, Instruction>,
    /// Inside a group marked `executeOn: always`.
    always: bool,
}

struct Pending<'a> {
    instruction: &'a Instruction,
    then: Then,
    ignore_exit_code: bool,
    max_time: Option<Duration>,
    max_silence: Option<Duration>,
}

/// What a successful action changes in the session.
enum Then {
    Nothing,
    MoveTo(String),
    ReplaceEnvironment,
    SetVariables,
}

impl<'a> Session<'a> {
    /// Starts `item` on `configuration`. `env` is the agent's environment (the login
    /// environment of its user, after the configuration's `Environment script` if it has one)
    /// plus the variables tollgate provides ([`super::provided_variables`]). On top of it come
    /// `CONFIGURE_ARGS` from `Configure arguments` and the configuration's `Environment
    /// variables`, in order, each rendered against what is set before it.
    pub fn new(
        configuration: &'a ConfigurationPlan,
        item: &'a WorkItem,
        layout: Layout,
        env: BTreeMap<String, String>,
    ) -> Session<'a> {
        let mut session = Session {
            properties: &configuration.properties,
            cwd: layout.agent_working_dir.clone(),
            // Coin does not say what `{{.BuildDir}}` is before `SetBuildDirectory`, yet
            // prepare_building_env.yaml reads it there; the sources are the neutral choice.
            build_dir: layout.source_dir.clone(),
            layout,
            env,
            stack: vec![Frame { items: item.instructions.iter(), always: false }],
            pending: None,
            failure: None,
            stopped: None,
            upload_test_results: false,
        };
        let config = &configuration.config;
        let assignments =
            config.configure_arguments.iter().map(|args| ("CONFIGURE_ARGS", args.as_str())).chain(
                config.environment.iter().map(|(name, value)| (name.as_str(), value.as_str())),
            );
        for (name, value) in assignments {
            match render(value, &session.context()) {
                Ok(value) => {
                    session.env.insert(name.to_owned(), value);
                }
                Err(error) => {
                    session.failure = Some(Failure {
                        location: config.location.clone(),
                        instruction: "platform configuration",
                        message: format!("environment variable `{name}` does not render: {error}"),
                        user_message: None,
                    });
                    session.stack.clear();
                    break;
                }
            }
        }
        session
    }

    /// The environment as it is now.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    pub fn step(&mut self) -> Step<'a> {
        if let Some(pending) = self.pending.take() {
            let failure = failure(pending.instruction, "was never reported on by the executor");
            self.stopped = Some(Outcome::Error(failure));
        }
        loop {
            if self.stopped.is_some() {
                return Step::Done(self.verdict());
            }
            let Some(frame) = self.stack.last_mut() else {
                return Step::Done(self.verdict());
            };
            let Some(instruction) = frame.items.next() else {
                self.stack.pop();
                continue;
            };
            let always = frame.always || instruction.always;
            if self.failure.is_some() && !always && !holds_always(instruction) {
                return Step::Note { instruction, note: Note::SkippedAfterFailure };
            }
            match self.condition_holds(instruction) {
                Ok(true) => {}
                Ok(false) => return Step::Note { instruction, note: Note::Skipped },
                Err(message) => return self.fail(instruction, message),
            }
            return match self.perform(instruction) {
                Ok(Performed::Enter(children)) => {
                    self.stack.push(Frame { items: children.iter(), always });
                    continue;
                }
                Ok(Performed::Applied(text)) => {
                    Step::Note { instruction, note: Note::Applied(text) }
                }
                Ok(Performed::Act(action, then)) => {
                    let (ignore_exit_code, max_time, max_silence) = match &action {
                        Action::Execute(execute) | Action::RunTests { execute, .. } => {
                            (ignores_exit_code(instruction), execute.max_time, execute.max_silence)
                        }
                        _ => (false, None, None),
                    };
                    self.pending = Some(Pending {
                        instruction,
                        then,
                        ignore_exit_code,
                        max_time,
                        max_silence,
                    });
                    Step::Act { instruction, action }
                }
                Err(message) => self.fail(instruction, message),
            };
        }
    }

    /// Reports how the last action went.
    pub fn finish(&mut self, report: Report) {
        let Some(pending) = self.pending.take() else { return };
        let instruction = pending.instruction;
        let seconds = |limit: Option<Duration>| limit.map_or(0, |d| d.as_secs());
        match report {
            Report::Done | Report::Exited(0) => self.then(pending.then, None),
            Report::Environment(vars) => self.then(pending.then, Some(vars)),
            // `ignoreExitCode` forgives how the process ended, not a limit that ran out.
            Report::Exited(_) | Report::Signalled(_) if pending.ignore_exit_code => {}
            Report::Exited(code) => self.record(instruction, format!("exited with code {code}")),
            Report::Signalled(signal) => {
                self.record(instruction, format!("was killed by signal {signal}"));
            }
            Report::TimedOut(Timeout::Total) => self.record(
                instruction,
                format!("ran longer than {} s (maxTimeInSeconds)", seconds(pending.max_time)),
            ),
            Report::TimedOut(Timeout::Silence) => self.record(
                instruction,
                format!(
                    "printed nothing for {} s (maxTimeBetweenOutput)",
                    seconds(pending.max_silence)
                ),
            ),
            Report::Failed(message) => self.record(instruction, message),
            Report::Error(message) => {
                self.stopped = Some(Outcome::Error(failure(instruction, &message)));
            }
            Report::Cancelled => self.stopped = Some(Outcome::Cancelled),
        }
    }

    /// Cancels the work item: the next step is [`Step::Done`] with [`Outcome::Cancelled`].
    pub fn cancel(&mut self) {
        self.pending = None;
        self.stopped = Some(Outcome::Cancelled);
    }

    /// A later error does not undo a failure the change already caused; a cancellation wins.
    fn verdict(&self) -> Verdict {
        let outcome = match (&self.stopped, &self.failure) {
            (Some(Outcome::Cancelled), _) => Outcome::Cancelled,
            (_, Some(failure)) => Outcome::Failed(failure.clone()),
            (Some(stopped), None) => stopped.clone(),
            (None, None) => Outcome::Passed,
        };
        Verdict { outcome, upload_test_results: self.upload_test_results }
    }

    fn then(&mut self, then: Then, vars: Option<BTreeMap<String, String>>) {
        match then {
            Then::Nothing => {}
            Then::MoveTo(path) => self.cwd = path,
            Then::ReplaceEnvironment => {
                if let Some(vars) = vars {
                    self.env = vars;
                }
            }
            Then::SetVariables => self.env.extend(vars.unwrap_or_default()),
        }
    }

    fn record(&mut self, instruction: &Instruction, message: String) {
        self.failure.get_or_insert_with(|| failure(instruction, &message));
    }

    fn fail(&mut self, instruction: &'a Instruction, message: String) -> Step<'a> {
        let failed = failure(instruction, &message);
        self.failure.get_or_insert_with(|| failed.clone());
        Step::Note { instruction, note: Note::Failed(failed) }
    }

    fn condition_holds(&self, instruction: &Instruction) -> Result<bool, String> {
        let live = Live { session: self };
        let evaluate = |condition, what: &str| {
            evaluate(condition, self.properties, &live)
                .map_err(|error| format!("its `{what}` cannot be evaluated: {error}"))
        };
        if let Some(condition) = &instruction.enable_if
            && !evaluate(condition, "enable_if")?
        {
            return Ok(false);
        }
        if let Some(condition) = &instruction.disable_if
            && evaluate(condition, "disable_if")?
        {
            return Ok(false);
        }
        Ok(true)
    }

    fn perform(&mut self, instruction: &'a Instruction) -> Result<Performed<'a>, String> {
        use InstructionKind as K;
        let act = |action| Ok(Performed::Act(action, Then::Nothing));
        match &instruction.kind {
            K::Variable { name, value, assign } => {
                let name = self.render(name, "variableName")?;
                let value = self.render(value, "variableValue")?;
                let old = self.env.get(&name).map(String::as_str).unwrap_or_default();
                // Raw concatenation: authors write their own separators (`":{{.Env.X}}"`).
                let new = match assign {
                    Assign::Set => value,
                    Assign::Append => format!("{old}{value}"),
                    Assign::Prepend => format!("{value}{old}"),
                };
                let text = format!("{name}={new}");
                self.env.insert(name, new);
                Ok(Performed::Applied(text))
            }
            K::SetBuildDirectory { directory } => {
                self.build_dir = self.path(directory, "directory")?;
                Ok(Performed::Applied(format!("build directory {}", self.build_dir)))
            }
            K::ScheduleUploadTestResults => {
                self.upload_test_results = true;
                Ok(Performed::Applied("test results are uploaded when the work item ends".into()))
            }
            K::ExecuteCommand { command, splitting, in_background, .. } => act(Action::Execute(
                self.execute(instruction, command, *splitting, *in_background)?,
            )),
            K::RunQtUnitTest { command, directory, repetitions } => {
                let mut execute = self.execute(
                    instruction,
                    &Command::List(command.clone()),
                    Splitting::BeforeSubstitution,
                    false,
                )?;
                if let Some(directory) = directory {
                    execute.cwd = self.path(directory, "directory")?;
                }
                act(Action::RunTests { execute, repetitions: *repetitions })
            }
            K::SetEnvironmentFromScript { command } => {
                let execute =
                    self.execute(instruction, command, Splitting::BeforeSubstitution, false)?;
                Ok(Performed::Act(
                    Action::EnvironmentFromScript { execute },
                    Then::ReplaceEnvironment,
                ))
            }
            K::ChangeDirectory { directory } => {
                let path = self.path(directory, "directory")?;
                Ok(Performed::Act(
                    Action::ChangeDirectory { path: path.clone() },
                    Then::MoveTo(path),
                ))
            }
            K::MakeDirectory { directory } => {
                act(Action::MakeDirectory { path: self.path(directory, "directory")? })
            }
            K::WriteFile { filename, contents, mode } => act(Action::WriteFile {
                path: self.path(filename, "filename")?,
                contents: self.render(contents, "fileContents")?,
                mode: *mode,
            }),
            K::Rename { source, target } => act(Action::Rename {
                from: self.path(source, "sourcePath")?,
                to: self.path(target, "targetPath")?,
            }),
            K::UploadArtifact { directory, transfer, filename, filter_list } => {
                act(Action::Upload {
                    directory: self.path(directory, "archiveDirectory")?,
                    transfer: transfer.clone(),
                    name: filename.as_deref().map(|f| self.render(f, "filename")).transpose()?,
                    filter_list: filter_list
                        .as_deref()
                        .map(|f| self.render(f, "filterListFileName"))
                        .transpose()?,
                })
            }
            K::UploadTestArtifact { directory, transfer } => act(Action::Upload {
                directory: self.path(directory, "archiveDirectory")?,
                transfer: transfer.clone(),
                name: None,
                filter_list: None,
            }),
            K::InstallTestBinaryArchive { storage_path, directory } => {
                act(Action::InstallArchive {
                    source: ArchiveSource::Path(self.render(storage_path, "relativeStoragePath")?),
                    directory: self.path(directory, "directory")?,
                })
            }
            K::InstallBinaryArchive { archive, directory } => {
                let source = match archive {
                    ArchiveRef::Path(path) => {
                        ArchiveSource::Path(self.render(path, "relativeStoragePath")?)
                    }
                    ArchiveRef::Regex(regex) => ArchiveSource::Regex(self.render(regex, "regex")?),
                };
                act(Action::InstallArchive {
                    source,
                    directory: self.path(directory, "directory")?,
                })
            }
            K::InstallSourceArchive { project, reference, directory } => {
                act(Action::InstallSources {
                    project: self.render(project, "project")?,
                    reference: self.render(reference, "ref")?,
                    directory: self.path(directory, "directory")?,
                })
            }
            K::UpdateRepo { repos } => act(Action::UpdateRepos { repos: repos.clone() }),
            K::ParseEnvironmentVariableFromFile { filename, regex } => Ok(Performed::Act(
                Action::ParseEnvironmentFromFile {
                    path: self.path(filename, "filename")?,
                    regex: regex.clone(),
                },
                Then::SetVariables,
            )),
            K::CreateFileListFromDirectory { directory, filter_list } => {
                act(Action::CreateFileList {
                    directory: self.path(directory, "directory")?,
                    list: self.render(filter_list, "filterListFileName")?,
                })
            }
            K::SignPackage { directory } => {
                act(Action::SignPackage { directory: self.path(directory, "directory")? })
            }
            K::Include { spec } => Err(format!("the include `{spec}` was never resolved")),
            K::Invalid { reason } => Err(format!("cannot be performed: {reason}")),
            K::Group(children) => Ok(Performed::Enter(children)),
        }
    }

    fn execute(
        &self,
        instruction: &Instruction,
        command: &Command,
        splitting: Splitting,
        in_background: bool,
    ) -> Result<Execute, String> {
        let form = match command {
            Command::Line(line) => CommandForm::Line(line),
            Command::List(items) => CommandForm::List(items),
        };
        let argv = command_argv(form, splitting, &self.context())
            .map_err(|error| format!("its command does not render: {error}"))?;
        match argv.first() {
            None => return Err("its command is empty once rendered".to_owned()),
            Some(program) if program.is_empty() => {
                return Err("its program (the first argument) is empty once rendered".to_owned());
            }
            Some(_) => {}
        }
        Ok(Execute {
            argv,
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            max_time: self.limit(instruction.max_time.as_ref(), "maxTimeInSeconds")?,
            max_silence: self.limit(instruction.max_silence.as_ref(), "maxTimeBetweenOutput")?,
            in_background,
        })
    }

    /// A timeout, rendered at this moment: `"{{.Env.CMAKE_BUILD_TIMEOUT}}"` is whatever the
    /// environment holds when the instruction is reached.
    fn limit(&self, limit: Option<&Limit>, field: &str) -> Result<Option<Duration>, String> {
        match limit {
            None => Ok(None),
            Some(Limit::Seconds(seconds)) => Ok(Some(Duration::from_secs(*seconds))),
            Some(Limit::Template(text)) => {
                let rendered = self.render(text, field)?;
                match rendered.trim().parse::<u64>() {
                    Ok(seconds) => Ok(Some(Duration::from_secs(seconds))),
                    Err(_) => Err(format!(
                        "`{field}` renders to `{rendered}`, which is not a number of seconds"
                    )),
                }
            }
        }
    }

    fn render(&self, text: &str, field: &str) -> Result<String, String> {
        render(text, &self.context()).map_err(|error| format!("`{field}` does not render: {error}"))
    }

    /// A rendered path, made absolute against the current directory.
    fn path(&self, text: &str, field: &str) -> Result<String, String> {
        let path = self.render(text, field)?;
        if path.is_empty() {
            return Err(format!("`{field}` is empty once rendered"));
        }
        Ok(absolute(&self.cwd, &path))
    }

    fn context(&self) -> Context<'_> {
        Context {
            env: &self.env,
            agent_working_dir: &self.layout.agent_working_dir,
            source_dir: &self.layout.source_dir,
            build_dir: &self.build_dir,
            install_dir: &self.layout.install_dir,
            install_root: &self.layout.install_root,
            num_cpu: self.layout.num_cpu,
            coin_download_url: &self.layout.download_url,
        }
    }
}

enum Performed<'a> {
    /// A group: its instructions come next.
    Enter(&'a [Instruction]),
    Applied(String),
    Act(Action, Then),
}

/// `runtime` conditions see the session's environment of this moment.
struct Live<'s, 'a> {
    session: &'s Session<'a>,
}

impl Runtime for Live<'_, '_> {
    fn var(&self, name: &str) -> Option<&str> {
        self.session.env.get(name).map(String::as_str)
    }

    fn render(&self, text: &str) -> Result<String, String> {
        render(text, &self.session.context()).map_err(|error| error.to_string())
    }
}

fn ignores_exit_code(instruction: &Instruction) -> bool {
    matches!(instruction.kind, InstructionKind::ExecuteCommand { ignore_exit_code: true, .. })
}

/// Whether anything in the instruction still runs after a failure.
fn holds_always(instruction: &Instruction) -> bool {
    instruction.always
        || matches!(&instruction.kind, InstructionKind::Group(children) if children.iter().any(holds_always))
}

fn failure(instruction: &Instruction, message: &str) -> Failure {
    Failure {
        location: instruction.location.clone(),
        instruction: instruction.kind.type_name(),
        message: message.to_owned(),
        user_message: instruction
            .user_message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
    }
}

/// `/a` and `C:\a` stay; `b` under `/a` is `/a/b`.
fn absolute(cwd: &str, path: &str) -> String {
    let bytes = path.as_bytes();
    let windows = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/');
    if path.starts_with('/') || path.starts_with('\\') || windows {
        return path.to_owned();
    }
    let relative = path.strip_prefix("./").unwrap_or(path);
    format!("{}/{relative}", cwd.trim_end_matches('/'))
}
