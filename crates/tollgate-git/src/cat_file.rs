//! Reads objects through one long-lived `git cat-file --batch-command`.
//!
//! Planning reads dozens of files per project; a process per read would dominate the time. The
//! protocol is a line per request, each answered at once (no `--buffer`): `info <object>\n`
//! gets `<oid> <type> <size>\n`, `contents <object>\n` gets the same header, the content and
//! `\n`; an object that does not exist gets `<object> missing\n` (or `ambiguous`).
//!
//! The process stays fresh: git reads refs from disk for every name (loose ref files, and
//! `packed-refs` or the reftable stack after checking whether they changed), looks for loose
//! objects on disk for every id, and rescans the pack folder (and forgets the loose object names
//! it keeps for abbreviations) before it answers `missing`. So refs moved, loose objects
//! written and packs fetched or repacked by other git processes are all seen, which the
//! `freshness` test pins down, and no `missing` needs a second opinion from a fresh process.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, ExitStatus};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::piped::{self, Piped};
use crate::{GitError, command};

/// The command, also for errors about its answers.
pub(crate) const ARGS: [&str; 2] = ["cat-file", "--batch-command"];

/// How many bytes of requests may wait for their answers. Requests are pipelined, since a
/// round trip through two pipes costs more than git's answer; but only as many as an idle pipe
/// holds (a page at least), so that a write never blocks while git waits for us to read.
const IN_FLIGHT: usize = 4096;

/// Whether `object` can be sent on the line protocol. git reads a line up to `\n`, drops a
/// `\r` before it, and a NUL would cut the name short; such names must be resolved otherwise.
pub(crate) fn sendable(object: &str) -> bool {
    !object.contains(['\n', '\0']) && !object.ends_with('\r')
}

/// How many idle processes a reader keeps for the next reads.
const IDLE_KEPT: usize = 4;

/// The batch processes of one repository, started on first use and restarted when they died.
pub(crate) struct ObjectReader {
    repo: PathBuf,
    /// Processes not in use. A read takes one, or starts one when none is idle, so that
    /// concurrent reads (two exports, or an export and planning's reads) do not wait for each
    /// other; usually there is one.
    idle: Mutex<Vec<CatFile>>,
}

/// What is asked about an object.
#[derive(Clone, Copy)]
enum Request {
    Info,
    Contents,
}

/// An object's type and content.
pub(crate) type Object = (String, Vec<u8>);

/// An answer: the object's full id and type, and its content when asked for.
struct Answer {
    id: String,
    kind: String,
    content: Vec<u8>,
}

impl ObjectReader {
    pub(crate) fn new(repo: PathBuf) -> ObjectReader {
        ObjectReader { repo, idle: Mutex::new(Vec::new()) }
    }

    /// The full id and type (`commit`, `tree`, `blob`, `tag`) of the object `object` names
    /// (any name git accepts, such as `main^{commit}`); `None` when it names nothing, or is
    /// an ambiguous abbreviation.
    pub(crate) fn info(&self, object: &str) -> Result<Option<(String, String)>, GitError> {
        let mut info = None;
        self.ask(Request::Info, &[object], &mut |answer| {
            info = answer.map(|answer| (answer.id, answer.kind));
            Ok(())
        })?;
        Ok(info)
    }

    /// The type and content of the object `object` names; `None` as for [`Self::info`].
    pub(crate) fn read(&self, object: &str) -> Result<Option<(String, Vec<u8>)>, GitError> {
        Ok(self.read_many(&[object])?.pop().flatten())
    }

    /// [`Self::read`] for each of `objects`, in order.
    pub(crate) fn read_many(&self, objects: &[&str]) -> Result<Vec<Option<Object>>, GitError> {
        let mut read = Vec::with_capacity(objects.len());
        self.read_each(objects, |_, object| {
            read.push(object);
            Ok(())
        })?;
        Ok(read)
    }

    /// Hands each of `objects` to `each` with its index, in order, as [`Self::read`] would
    /// read it, one at a time, so that only one is in memory; the requests are pipelined, since
    /// for many small objects, such as a tree's files, the round trips would cost more than the
    /// reads. An error from `each` stops the reads and is the result.
    pub(crate) fn read_each(
        &self,
        objects: &[&str],
        mut each: impl FnMut(usize, Option<Object>) -> Result<(), GitError>,
    ) -> Result<(), GitError> {
        let mut index = 0;
        self.ask(Request::Contents, objects, &mut |answer| {
            index += 1;
            each(index - 1, answer.map(|answer| (answer.kind, answer.content)))
        })
    }

    /// The content of `object` when it names a blob; `None` when it names nothing or something
    /// else, such as a tree.
    pub(crate) fn read_blob(&self, object: &str) -> Result<Option<Vec<u8>>, GitError> {
        let object = self.read(object)?;
        Ok(object.filter(|(kind, _)| kind == "blob").map(|(_, content)| content))
    }

    fn ask(&self, request: Request, objects: &[&str], each: Each<'_>) -> Result<(), GitError> {
        if let Some(object) = objects.iter().find(|object| !sendable(object)) {
            // A caller's slip: two lines would be two requests, and the stream out of step.
            return Err(GitError::Invalid { what: "object name", name: (*object).to_owned() });
        }
        if objects.is_empty() {
            return Ok(());
        }
        let mut slot = self.idle().pop();
        // A process that served earlier reads may have died since (killed, out of memory): one
        // retry with a fresh process, unless answers were handed over already. A fresh process
        // that fails reports the failure.
        let reused = slot.is_some();
        let result = match self.request(&mut slot, request, objects, each) {
            Err((_, Retry::Yes)) if reused => self.request(&mut slot, request, objects, each),
            result => result,
        };
        if let Some(process) = slot {
            let mut idle = self.idle();
            if idle.len() < IDLE_KEPT {
                idle.push(process);
            }
        }
        result.map_err(|(error, _)| error)
    }

    fn idle(&self) -> MutexGuard<'_, Vec<CatFile>> {
        // Held only to take or return a process, never during a request.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn request(
        &self,
        slot: &mut Option<CatFile>,
        request: Request,
        objects: &[&str],
        each: Each<'_>,
    ) -> Result<(), (GitError, Retry)> {
        let process = match slot {
            Some(process) => process,
            None => slot.insert(CatFile::spawn(&self.repo).map_err(|error| (error, Retry::No))?),
        };
        let stop = match process.request(request, objects, each) {
            Ok(()) => return Ok(()),
            Err(stop) => stop,
        };
        // After a failure the stream may be out of step: never reuse the process. (A panic
        // while handling an answer drops it too, on the way out.)
        let mut process = slot.take().expect("the process was just used");
        Err(match stop {
            Stop::Failed { failure, answered } => {
                let retry = if answered == 0 { Retry::Yes } else { Retry::No };
                (process.fail(&self.repo, failure), retry)
            }
            Stop::Caller(error) => (error, Retry::No),
        })
    }
}

/// What is done with each answer, in order; an error stops the requests.
type Each<'a> = &'a mut dyn FnMut(Option<Answer>) -> Result<(), GitError>;

/// Whether a request that failed may be tried again with a fresh process.
enum Retry {
    Yes,
    No,
}

/// Why requests stopped before all were answered.
enum Stop {
    /// git failed, after `answered` answers were handed over.
    Failed { failure: Failure, answered: usize },
    /// Handling an answer failed.
    Caller(GitError),
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
        let piped = piped::spawn(repo, &ARGS, "git-cat-file-stderr")?;
        let Piped { child, stdin, stdout, stderr } = piped;
        Ok(CatFile { child, stdin, stdout, stderr: Some(stderr) })
    }

    /// Sends the requests, at most [`IN_FLIGHT`] bytes ahead of the answers read, and hands
    /// each answer to `each`.
    fn request(&mut self, request: Request, objects: &[&str], each: Each<'_>) -> Result<(), Stop> {
        let line = |object: &str| {
            let command = match request {
                Request::Info => "info ",
                Request::Contents => "contents ",
            };
            [command, object, "\n"].concat()
        };
        let (mut sent, mut answered, mut in_flight) = (0, 0, 0);
        let mut lines = String::new();
        let failed = |answered| move |failure| Stop::Failed { failure, answered };
        while answered < objects.len() {
            lines.clear();
            while let Some(object) = objects.get(sent) {
                let next = line(object);
                // One request goes even when longer than the limit: nothing else is waiting.
                if sent > answered && in_flight + next.len() > IN_FLIGHT {
                    break;
                }
                in_flight += next.len();
                lines.push_str(&next);
                sent += 1;
            }
            if !lines.is_empty() {
                let write = self.stdin.write_all(lines.as_bytes());
                write
                    .and_then(|()| self.stdin.flush())
                    .map_err(Failure::Io)
                    .map_err(failed(answered))?;
            }
            let object = objects[answered];
            in_flight -= line(object).len();
            let answer = self.answer(request, object).map_err(failed(answered))?;
            answered += 1;
            each(answer).map_err(Stop::Caller)?;
        }
        Ok(())
    }

    /// Reads the answer to the request for `object`.
    fn answer(&mut self, request: Request, object: &str) -> Result<Option<Answer>, Failure> {
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
        let [id, kind, size] = header.split(' ').collect::<Vec<_>>()[..] else {
            return Err(garbled());
        };
        let size: usize = size.parse().map_err(|_| garbled())?;
        let (id, kind) = (id.to_owned(), kind.to_owned());
        if let Request::Info = request {
            return Ok(Some(Answer { id, kind, content: Vec::new() }));
        }

        let mut content = vec![0; size];
        let mut end = [0];
        let read =
            self.stdout.read_exact(&mut content).and_then(|()| self.stdout.read_exact(&mut end));
        match read {
            Ok(()) if end == [b'\n'] => Ok(Some(Answer { id, kind, content })),
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

#[cfg(test)]
mod tests;
