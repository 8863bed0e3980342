//! Reads objects through one long-lived `git cat-file --batch`.
//!
//! Planning reads dozens of files per project; a process per read would dominate the time. The
//! protocol: we write `<object>\n`; git answers `<oid> <type> <size>\n<content>\n`, or
//! `<object> missing\n`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use crate::GitError;
use crate::command;

const ARGS: [&str; 2] = ["cat-file", "--batch"];

/// How much of git's stderr an error keeps: the end, where the reason is.
const STDERR_KEPT: usize = 4096;

/// The batch process of one repository, started on first use and restarted when it died.
pub(crate) struct ObjectReader {
    repo: PathBuf,
    process: Mutex<Option<CatFile>>,
}

impl ObjectReader {
    pub(crate) fn new(repo: PathBuf) -> ObjectReader {
        ObjectReader { repo, process: Mutex::new(None) }
    }

    /// The content of `object` (any name git accepts, without a newline) when it names a blob;
    /// `None` when it names nothing or something else, such as a tree.
    pub(crate) fn read_blob(&self, object: &str) -> Result<Option<Vec<u8>>, GitError> {
        debug_assert!(!object.contains('\n'), "the protocol is line-based");
        let mut slot = self.lock();
        // A process that served earlier reads may have died since (killed, out of memory).
        // One retry with a fresh process; a fresh process that fails reports the failure.
        let reused = slot.is_some();
        let answer = match self.request(&mut slot, object) {
            Err(_) if reused => self.request(&mut slot, object)?,
            answer => answer?,
        };
        Ok(answer.filter(|(kind, _)| kind == "blob").map(|(_, content)| content))
    }

    fn lock(&self) -> MutexGuard<'_, Option<CatFile>> {
        self.process.lock().unwrap_or_else(|poisoned| {
            // A panic mid-request may have left the stream out of step: start afresh.
            let mut slot = poisoned.into_inner();
            *slot = None;
            self.process.clear_poison();
            slot
        })
    }

    fn request(
        &self,
        slot: &mut Option<CatFile>,
        object: &str,
    ) -> Result<Option<(String, Vec<u8>)>, GitError> {
        let process = match slot {
            Some(process) => process,
            None => slot.insert(CatFile::spawn(&self.repo)?),
        };
        match process.request(object) {
            Ok(answer) => Ok(answer),
            Err(failure) => {
                // After a failure the stream may be out of step: never reuse the process.
                let mut process = slot.take().expect("the process was just used");
                Err(process.fail(&self.repo, failure))
            }
        }
    }
}

/// Why a request did not get an answer.
enum Failure {
    Io(io::Error),
    Closed,
    Garbled(String),
}

struct CatFile {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
}

impl CatFile {
    fn spawn(repo: &Path) -> Result<CatFile, GitError> {
        let spawn_error = |source| GitError::Spawn {
            repo: repo.to_owned(),
            command: command::describe(&ARGS),
            source,
        };
        let mut child = command::git(repo)
            .args(ARGS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let stderr = child.stderr.take().expect("piped");
        // git's stderr is drained as it comes, so that a chatty git can never block on a full
        // pipe, and kept for the error message should the process die.
        let drain = thread::Builder::new()
            .name("git-cat-file-stderr".into())
            .stack_size(64 * 1024)
            .spawn(move || keep_tail(stderr));
        match drain {
            Ok(drain) => Ok(CatFile { child, stdin, stdout, stderr: Some(drain) }),
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(spawn_error(source))
            }
        }
    }

    fn request(&mut self, object: &str) -> Result<Option<(String, Vec<u8>)>, Failure> {
        let mut line = Vec::with_capacity(object.len() + 1);
        line.extend_from_slice(object.as_bytes());
        line.push(b'\n');
        self.stdin.write_all(&line).and_then(|()| self.stdin.flush()).map_err(Failure::Io)?;

        let mut header = Vec::new();
        self.stdout.read_until(b'\n', &mut header).map_err(Failure::Io)?;
        if header.pop() != Some(b'\n') {
            return Err(Failure::Closed);
        }
        let header = String::from_utf8_lossy(&header);
        if header
            .strip_prefix(object)
            .is_some_and(|rest| rest == " missing" || rest == " ambiguous")
        {
            return Ok(None);
        }
        let garbled = || Failure::Garbled(header.clone().into_owned());
        let [_, kind, size] = header.split(' ').collect::<Vec<_>>()[..] else {
            return Err(garbled());
        };
        let size: usize = size.parse().map_err(|_| garbled())?;

        let mut content = vec![0; size];
        let mut end = [0];
        let read =
            self.stdout.read_exact(&mut content).and_then(|()| self.stdout.read_exact(&mut end));
        match read {
            Ok(()) if end == [b'\n'] => Ok(Some((kind.to_owned(), content))),
            Ok(()) => Err(Failure::Garbled(format!("{header}: no newline after the content"))),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Err(Failure::Closed),
            Err(error) => Err(Failure::Io(error)),
        }
    }

    /// Ends the process and describes the failure with what git said.
    fn fail(&mut self, repo: &Path, failure: Failure) -> GitError {
        let status = self.stop();
        let stderr = self.stderr.take().and_then(|drain| drain.join().ok()).unwrap_or_default();
        let exit = |status: Option<ExitStatus>| match status {
            Some(status) => format!("git exited ({status})"),
            None => "git did not exit".to_owned(),
        };
        let (repo, command) = (repo.to_owned(), command::describe(&ARGS));
        let said = match stderr.trim() {
            "" => String::new(),
            stderr => format!(": {stderr}"),
        };
        match failure {
            Failure::Garbled(output) => GitError::Output { repo, command, output },
            Failure::Io(error) => GitError::Broken {
                repo,
                command,
                detail: format!("{error}; {}{said}", exit(status)),
            },
            Failure::Closed => {
                GitError::Broken { repo, command, detail: format!("{}{said}", exit(status)) }
            }
        }
    }

    /// Kills and reaps the process. It only reads, so killing loses nothing.
    fn stop(&mut self) -> Option<ExitStatus> {
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads `stderr` to its end, keeping the last [`STDERR_KEPT`] bytes.
fn keep_tail(mut stderr: impl Read) -> String {
    let mut kept = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        match stderr.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                kept.extend_from_slice(&buffer[..n]);
                let excess = kept.len().saturating_sub(STDERR_KEPT);
                kept.drain(..excess);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository holding one blob and its tree, made with the same controlled environment
    /// and without the user's global config.
    fn repository_with_blob(dir: &Path, content: &str) -> (String, String) {
        let git = |args: &[&str], input: &str| {
            let mut child = command::git(dir)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "git {args:?}");
            String::from_utf8(output.stdout).unwrap().trim().to_owned()
        };
        git(&["init", "-q"], "");
        let blob = git(&["hash-object", "-w", "--stdin"], content);
        let tree = git(&["mktree"], &format!("100644 blob {blob}\tfile\n"));
        (blob, tree)
    }

    #[test]
    fn a_dead_batch_process_is_restarted() {
        let dir = tempfile::tempdir().unwrap();
        let (blob, _) = repository_with_blob(dir.path(), "content\n");
        let reader = ObjectReader::new(dir.path().to_owned());
        assert_eq!(reader.read_blob(&blob).unwrap().as_deref(), Some(&b"content\n"[..]));

        let first = {
            let mut slot = reader.lock();
            let process = slot.as_mut().expect("started by the first read");
            process.child.kill().unwrap();
            process.child.wait().unwrap();
            process.child.id()
        };
        assert_eq!(reader.read_blob(&blob).unwrap().as_deref(), Some(&b"content\n"[..]));
        let second = reader.lock().as_ref().map(|process| process.child.id());
        assert_ne!(second, Some(first), "a new process serves the read");
    }

    #[test]
    fn only_blobs_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let (blob, tree) = repository_with_blob(dir.path(), "x");
        let reader = ObjectReader::new(dir.path().to_owned());
        assert_eq!(reader.read_blob(&tree).unwrap(), None, "a tree");
        assert_eq!(reader.read_blob(&format!("{tree}:file")).unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(reader.read_blob(&format!("{tree}:nothing")).unwrap(), None);
        assert_eq!(reader.read_blob(&"0".repeat(blob.len())).unwrap(), None, "missing id");
    }
}
