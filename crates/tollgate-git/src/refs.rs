//! Writes refs through one long-lived `git update-ref --stdin -z`, a transaction at a time.
//!
//! The controller moves refs on every integration; a git process per move would be a fork, an
//! exec and a repository setup each time, on its hot path. The protocol (git 2.27 or newer):
//! we write NUL-terminated commands,
//!
//! ```text
//! start NUL
//! update SP <ref> NUL <new-oid> NUL [<old-oid>] NUL      (one per ref set)
//! delete SP <ref> NUL NUL                                (one per ref deleted)
//! prepare NUL
//! commit NUL
//! ```
//!
//! and git answers `start: ok\n`, `prepare: ok\n` and `commit: ok\n` (newline-terminated even
//! with `-z`), then waits for the next `start`. `prepare` locks every ref and checks the
//! expected old values; when anything is wrong (a ref moved, a lock is held, an object is
//! missing) git prints `fatal: prepare: ...` on stderr, releases its locks and exits with 128:
//! nothing of the transaction is applied, and the next transaction gets a new process.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, ExitStatus};
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::piped::{self, Piped};
use crate::ref_name::is_valid_ref_name;
use crate::{CommitId, GitError, command};

const ARGS: [&str; 3] = ["update-ref", "--stdin", "-z"];

/// What git answers to a transaction, in order.
const ANSWERS: [&str; 3] = ["start: ok", "prepare: ok", "commit: ok"];

/// How long a process whose input was closed may take to exit before it is killed. Closing
/// the input rather than killing lets git abort an open transaction and remove its `.lock`
/// files, which a killed git would leave behind, blocking those refs until removed by hand.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// One change of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RefUpdate {
    /// Points `name` at the object `to`. With `from`, only if the ref is at `from` now
    /// (compare-and-swap); the all-zero id as `from` means "only if the ref does not exist".
    Set { name: String, to: String, from: Option<String> },
    /// Removes `name`; a ref that is not there is already removed.
    Delete { name: String },
}

impl RefUpdate {
    fn name(&self) -> &str {
        match self {
            RefUpdate::Set { name, .. } | RefUpdate::Delete { name } => name,
        }
    }
}

/// The `update-ref` process of one repository, started on first use and replaced after it
/// died or failed. `Send + Sync`: one transaction at a time goes through the mutex.
pub(crate) struct RefWriter {
    repo: PathBuf,
    process: Mutex<Option<UpdateRef>>,
}

impl RefWriter {
    pub(crate) fn new(repo: PathBuf) -> RefWriter {
        RefWriter { repo, process: Mutex::new(None) }
    }

    /// Applies `updates` as one transaction: all of them, or none. Names must be full ref
    /// names (under `refs/`) and ids full lowercase hex; anything else is refused before git
    /// is involved. All or none holds for writers: while git commits, it renames its lock
    /// files one by one, so a concurrent reader may see some refs moved and not yet others.
    ///
    /// [`GitError::Failed`] means git refused (git's message says which ref and why) and
    /// nothing changed. [`GitError::Broken`] means the process died: nothing changed, unless
    /// the message says the outcome is unknown (git died while committing), in which case
    /// the caller must read the refs to learn what happened.
    pub(crate) fn apply(&self, updates: &[RefUpdate]) -> Result<(), GitError> {
        let script = script(updates)?;
        if updates.is_empty() {
            return Ok(());
        }
        let command = describe(updates);
        let mut slot = self.lock();
        let reused = slot.is_some();
        let result = match self.transact(&mut slot, &script, &command) {
            // The process that served earlier transactions died since (killed, out of
            // memory) and answered nothing, not even `start`: none of this transaction was
            // applied, so a fresh process may try it, once.
            Err(failure) if reused && failure.answered == 0 => {
                self.transact(&mut slot, &script, &command)
            }
            result => result,
        };
        result.map_err(|failure| failure.error)
    }

    fn lock(&self) -> MutexGuard<'_, Option<UpdateRef>> {
        self.process.lock().unwrap_or_else(|poisoned| {
            // A panic mid-transaction may have left the stream out of step: start afresh.
            let mut slot = poisoned.into_inner();
            *slot = None;
            self.process.clear_poison();
            slot
        })
    }

    fn transact(
        &self,
        slot: &mut Option<UpdateRef>,
        script: &[u8],
        command: &str,
    ) -> Result<(), Failure> {
        let process = match slot {
            Some(process) => process,
            None => match UpdateRef::spawn(&self.repo) {
                Ok(process) => slot.insert(process),
                Err(error) => return Err(Failure { answered: 0, error }),
            },
        };
        let Err((answered, cause)) = process.transact(script) else {
            return Ok(());
        };
        // git exits after a failure anyway; a process that answered oddly is out of step.
        let mut process = slot.take().expect("the process was just used");
        let (status, stderr) = process.stop();
        let (repo, command) = (self.repo.clone(), command.to_owned());
        let stderr = stderr.trim().to_owned();
        let said = if stderr.is_empty() { String::new() } else { format!(": {stderr}") };
        let exit = match status {
            Some(status) => format!("git exited ({status})"),
            None => "git did not exit".to_owned(),
        };
        let error = match cause {
            // `commit` was read, and may have been carried out in part or in full before git
            // died: retrying blindly could undo a later move by someone else.
            _ if answered >= 2 => GitError::Broken {
                repo,
                command,
                detail: format!(
                    "the outcome is unknown, git stopped after `prepare: ok` ({cause}); \
                     {exit}{said}"
                ),
            },
            Cause::Garbled(output) => GitError::Output { repo, command, output },
            Cause::Closed => match status {
                Some(status) => GitError::Failed { repo, command, status, stderr },
                None => GitError::Broken { repo, command, detail: format!("{exit}{said}") },
            },
            Cause::Io(error) => {
                GitError::Broken { repo, command, detail: format!("{error}; {exit}{said}") }
            }
        };
        Err(Failure { answered, error })
    }
}

/// A transaction that did not go through: how many of [`ANSWERS`] git gave, and the error.
struct Failure {
    answered: usize,
    error: GitError,
}

/// Why a transaction got no full answer.
#[derive(Debug)]
enum Cause {
    Io(io::Error),
    Closed,
    Garbled(String),
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Io(error) => write!(f, "{error}"),
            Cause::Closed => f.write_str("no answer"),
            Cause::Garbled(output) => write!(f, "unexpected answer {output:?}"),
        }
    }
}

/// The commands of one transaction, after checking every name and id: refused here, they
/// never reach git, where a bad one would end the process.
fn script(updates: &[RefUpdate]) -> Result<Vec<u8>, GitError> {
    let mut seen = HashSet::new();
    let mut script = b"start\0".to_vec();
    for update in updates {
        let name = update.name();
        // Under `refs/`, so that no name is taken for `HEAD` or another pseudo-ref.
        if !name.starts_with("refs/") || !is_valid_ref_name(name) {
            return Err(GitError::Invalid { what: "ref name", name: name.to_owned() });
        }
        // git refuses a transaction that names a ref twice, and exits.
        if !seen.insert(name) {
            return Err(GitError::Invalid {
                what: "ref named twice in a transaction",
                name: name.to_owned(),
            });
        }
        match update {
            RefUpdate::Set { name, to, from } => {
                for id in std::iter::once(to).chain(from) {
                    // The form of any full object id, commit or not.
                    if CommitId::parse(id).is_none() {
                        return Err(GitError::Invalid { what: "object id", name: id.clone() });
                    }
                }
                let from = from.as_deref().unwrap_or("");
                script.extend_from_slice(format!("update {name}\0{to}\0{from}\0").as_bytes());
            }
            RefUpdate::Delete { name } => {
                script.extend_from_slice(format!("delete {name}\0\0").as_bytes());
            }
        }
    }
    script.extend_from_slice(b"prepare\0commit\0");
    Ok(script)
}

/// How a transaction is named in errors: the command and the refs it changes.
fn describe(updates: &[RefUpdate]) -> String {
    let refs: Vec<String> = updates
        .iter()
        .map(|update| match update {
            RefUpdate::Set { name, .. } => format!("set {name}"),
            RefUpdate::Delete { name } => format!("delete {name}"),
        })
        .collect();
    format!("{} ({})", command::describe(&ARGS), refs.join(", "))
}

struct UpdateRef {
    child: Child,
    /// `None` once closed, which tells git to abort an open transaction and exit.
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
}

impl UpdateRef {
    fn spawn(repo: &Path) -> Result<UpdateRef, GitError> {
        let piped = piped::spawn(repo, &ARGS, "git-update-ref-stderr")?;
        let Piped { child, stdin, stdout, stderr } = piped;
        Ok(UpdateRef { child, stdin: Some(stdin), stdout, stderr: Some(stderr) })
    }

    /// Sends the transaction and reads git's answers; on failure, how many answers came.
    fn transact(&mut self, script: &[u8]) -> Result<(), (usize, Cause)> {
        let stdin = self.stdin.as_mut().expect("open until the process is stopped");
        // Writing to a pipe fails only when git closed it: it died, perhaps after answering
        // part of the transaction, which the answers it left tell.
        let _ = stdin.write_all(script).and_then(|()| stdin.flush());
        for (answered, expected) in ANSWERS.into_iter().enumerate() {
            let mut line = Vec::new();
            match self.stdout.read_until(b'\n', &mut line) {
                Err(error) => return Err((answered, Cause::Io(error))),
                Ok(_) if line.pop() != Some(b'\n') => return Err((answered, Cause::Closed)),
                Ok(_) if line != expected.as_bytes() => {
                    let output = String::from_utf8_lossy(&line).into_owned();
                    return Err((answered, Cause::Garbled(output)));
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// Ends the process: closes its input, so that git aborts an open transaction and
    /// exits, and kills it only if it has not exited after [`EXIT_GRACE`]. Returns how it
    /// exited and the end of its stderr.
    fn stop(&mut self) -> (Option<ExitStatus>, String) {
        self.stdin = None;
        let deadline = Instant::now() + EXIT_GRACE;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(1)),
                _ => {
                    let _ = self.child.kill();
                    break self.child.wait().ok();
                }
            }
        };
        let stderr = self.stderr.take().and_then(|drain| drain.join().ok()).unwrap_or_default();
        (status, stderr)
    }
}

impl Drop for UpdateRef {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    /// A repository with two commits, made by git isolated from the user's config and from
    /// any `GIT_*` variable the test runs under.
    struct TestRepo {
        dir: tempfile::TempDir,
        first: String,
        second: String,
    }

    impl TestRepo {
        fn new() -> TestRepo {
            let dir = tempfile::tempdir().unwrap();
            let mut repo = TestRepo { dir, first: String::new(), second: String::new() };
            repo.git(&["init", "-q", "-b", "main"]);
            repo.git(&["commit", "-q", "--allow-empty", "-m", "first"]);
            repo.first = repo.git(&["rev-parse", "HEAD"]);
            repo.git(&["commit", "-q", "--allow-empty", "-m", "second"]);
            repo.second = repo.git(&["rev-parse", "HEAD"]);
            repo
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn git(&self, args: &[&str]) -> String {
            let output = self.command(args).output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "git {args:?} failed: {stderr}");
            String::from_utf8(output.stdout).unwrap().trim().to_owned()
        }

        fn command(&self, args: &[&str]) -> Command {
            let mut command = command::git(self.path());
            command
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "Test")
                .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
                .env("GIT_COMMITTER_NAME", "Test")
                .env("GIT_COMMITTER_EMAIL", "test@example.invalid");
            command
        }

        /// Where `name` points, read by another git process; `None` when it does not exist.
        fn read(&self, name: &str) -> Option<String> {
            let output = self.command(&["rev-parse", "-q", "--verify", name]).output().unwrap();
            output.status.success().then(|| String::from_utf8(output.stdout).unwrap().trim().into())
        }

        fn writer(&self) -> RefWriter {
            RefWriter::new(self.path().to_owned())
        }
    }

    fn set(name: &str, to: &str, from: Option<&str>) -> RefUpdate {
        RefUpdate::Set { name: name.into(), to: to.into(), from: from.map(Into::into) }
    }

    fn delete(name: &str) -> RefUpdate {
        RefUpdate::Delete { name: name.into() }
    }

    fn pid(writer: &RefWriter) -> Option<u32> {
        writer.lock().as_ref().map(|process| process.child.id())
    }

    #[test]
    fn ref_writer_is_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<RefWriter>();
    }

    #[test]
    fn ref_updates_are_visible_to_other_processes_at_once() {
        let repo = TestRepo::new();
        let (first, second) = (&repo.first, &repo.second);
        let writer = repo.writer();
        writer.apply(&[set("refs/x/one", first, None), set("refs/x/two", second, None)]).unwrap();
        assert_eq!(repo.read("refs/x/one").as_ref(), Some(first));
        assert_eq!(repo.read("refs/x/two").as_ref(), Some(second));
        let served = pid(&writer).expect("started by the first transaction");

        writer.apply(&[set("refs/x/one", second, Some(first)), delete("refs/x/two")]).unwrap();
        assert_eq!(repo.read("refs/x/one").as_ref(), Some(second));
        assert_eq!(repo.read("refs/x/two"), None);
        assert_eq!(repo.git(&["for-each-ref", "--format=%(refname)", "refs/x"]), "refs/x/one");

        let zero = "0".repeat(40);
        writer.apply(&[set("refs/x/new", first, Some(&zero))]).unwrap();
        assert_eq!(repo.read("refs/x/new").as_ref(), Some(first), "created where none was");
        writer.apply(&[delete("refs/x/absent")]).unwrap();
        writer.apply(&[]).unwrap();
        assert_eq!(pid(&writer), Some(served), "one process served every transaction");
    }

    #[test]
    fn a_ref_transaction_with_a_stale_expected_value_changes_nothing() {
        let repo = TestRepo::new();
        let (first, second) = (&repo.first, &repo.second);
        let writer = repo.writer();
        writer.apply(&[set("refs/x/one", first, None), set("refs/x/two", first, None)]).unwrap();
        let failed = pid(&writer).unwrap();

        let error = writer
            .apply(&[
                set("refs/x/one", second, Some(first)),
                set("refs/x/two", second, Some(second)),
                set("refs/x/three", second, None),
            ])
            .unwrap_err();
        let GitError::Failed { status, stderr, .. } = &error else { panic!("{error}") };
        assert_eq!(status.code(), Some(128), "git exits by itself after a failure");
        assert!(stderr.contains("'refs/x/two': is at"), "{stderr}");
        let message = error.to_string();
        assert!(message.contains("set refs/x/one, set refs/x/two, set refs/x/three"), "{message}");
        assert!(message.contains(&repo.path().display().to_string()), "{message}");
        assert_eq!(repo.read("refs/x/one").as_ref(), Some(first), "not half-applied");
        assert_eq!(repo.read("refs/x/two").as_ref(), Some(first));
        assert_eq!(repo.read("refs/x/three"), None);
        assert_eq!(pid(&writer), None, "the failed process is gone");

        writer.apply(&[set("refs/x/one", second, Some(first))]).unwrap();
        assert_eq!(repo.read("refs/x/one").as_ref(), Some(second), "works after a failure");
        assert_ne!(pid(&writer), Some(failed));
    }

    #[test]
    fn a_held_ref_lock_fails_the_transaction_and_is_left_alone() {
        let repo = TestRepo::new();
        let (first, second) = (&repo.first, &repo.second);
        let writer = repo.writer();
        writer.apply(&[set("refs/x/one", first, None), set("refs/x/two", first, None)]).unwrap();
        let lock = repo.path().join(".git/refs/x/two.lock");
        fs::write(&lock, "").unwrap();

        let error = writer
            .apply(&[set("refs/x/one", second, None), set("refs/x/two", second, None)])
            .unwrap_err();
        assert!(matches!(error, GitError::Failed { .. }), "{error}");
        assert!(error.to_string().contains("refs/x/two.lock': File exists"), "{error}");
        assert_eq!(repo.read("refs/x/one").as_ref(), Some(first));
        assert_eq!(repo.read("refs/x/two").as_ref(), Some(first));
        assert!(lock.exists(), "someone else's lock");
        assert!(!repo.path().join(".git/refs/x/one.lock").exists(), "git released its own");
    }

    #[test]
    fn a_killed_ref_process_is_replaced_transparently() {
        let repo = TestRepo::new();
        let writer = repo.writer();
        writer.apply(&[set("refs/x/one", &repo.first, None)]).unwrap();
        let killed = {
            let mut slot = writer.lock();
            let process = slot.as_mut().expect("started by the first transaction");
            process.child.kill().unwrap();
            process.child.wait().unwrap();
            process.child.id()
        };
        writer.apply(&[set("refs/x/one", &repo.second, Some(&repo.first))]).unwrap();
        assert_eq!(repo.read("refs/x/one").as_ref(), Some(&repo.second));
        let replacement = pid(&writer);
        assert!(replacement.is_some() && replacement != Some(killed), "a new process");
    }

    #[test]
    fn a_ref_process_dying_while_committing_is_an_unknown_outcome_not_retried() {
        let repo = TestRepo::new();
        let (first, second) = (&repo.first, &repo.second);
        let writer = repo.writer();
        writer.apply(&[set("refs/x/one", first, None)]).unwrap();
        // The hook runs once the refs are written, before git answers `commit: ok`; it kills
        // git the first time only, so that a retry would succeed and be seen.
        let hooks = repo.path().join("hooks");
        let killed = repo.path().join("killed");
        fs::create_dir(&hooks).unwrap();
        let hook = hooks.join("reference-transaction");
        let script = format!(
            "#!/bin/sh\nif [ \"$1\" = committed ] && [ ! -e {killed} ]; then\n\
             touch {killed}; kill -9 $PPID\nfi\n",
            killed = killed.display()
        );
        fs::write(&hook, script).unwrap();
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
        repo.git(&["config", "core.hooksPath", hooks.to_str().unwrap()]);

        // A fresh process, which reads the new configuration.
        let writer = repo.writer();
        let error = writer.apply(&[set("refs/x/one", second, Some(first))]).unwrap_err();
        assert!(killed.exists(), "the hook ran");
        assert!(matches!(error, GitError::Broken { .. }), "{error}");
        assert!(error.to_string().contains("outcome is unknown"), "{error}");
        assert_eq!(repo.read("refs/x/one").as_ref(), Some(second), "it did commit");
        assert_eq!(pid(&writer), None, "no second attempt");
    }

    #[test]
    fn invalid_ref_updates_are_refused_without_git() {
        let repo = TestRepo::new();
        let writer = repo.writer();
        let id = repo.first.as_str();
        let invalid = [
            set("HEAD", id, None),
            set("main", id, None),
            set("heads/main", id, None),
            set("refs/heads/a..b", id, None),
            set("refs/heads/a b", id, None),
            set("refs/heads/a\0b", id, None),
            set("refs/heads/x.lock", id, None),
            set("refs/", id, None),
            set("refs/heads/main", &id[..7], None),
            set("refs/heads/main", &id.to_uppercase(), None),
            set("refs/heads/main", "main", None),
            set("refs/heads/main", id, Some("HEAD")),
            set("refs/heads/main", id, Some("")),
            delete("-d"),
        ];
        for update in invalid {
            let error = writer.apply(&[set("refs/x/fine", id, None), update.clone()]).unwrap_err();
            assert!(matches!(error, GitError::Invalid { .. }), "{update:?}: {error}");
        }
        let twice = writer.apply(&[set("refs/x/one", id, None), delete("refs/x/one")]);
        assert!(matches!(twice, Err(GitError::Invalid { .. })), "{twice:?}");
        assert_eq!(pid(&writer), None, "git was never started");
        assert_eq!(repo.read("refs/x/fine"), None);
    }
}
