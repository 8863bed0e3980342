//! A work item's log: one file, one line per line of output, written as it grows.
//!
//! ```text
//! 2026-11-24T15:09:08.123Z sys ExecuteCommand make -j8 (demo/app/coin/module_config.yaml:12:7)
//! 2026-11-24T15:09:08.456Z out cc -c greet.c
//! 2026-11-24T15:09:09.001Z err greet.c:3: warning: unused variable
//! 2026-11-24T15:09:09.420Z sys exited with code 0 after 1.297 s
//! ```
//!
//! `out` and `err` are the process's streams; `sys` is the runner (instructions starting and
//! ending, exit codes, durations). Past the size cap, lines are dropped and one `sys` line says
//! so, so that a runaway build fills neither the disk nor memory. A write that fails (a full
//! disk) is remembered: the work item then ends as the system's error, not the change's.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;

/// Who hears of the log as it grows.
pub enum Observer {
    /// Every batch of lines, as written (`tollgate run-item` prints them).
    Lines(UnboundedSender<String>),
    /// The log's length after each write, for a reader of the file itself: what it has not
    /// read waits in the file, not in memory (an agent sends it in pieces, the controller
    /// wakes the log's followers).
    Length(watch::Sender<u64>),
}

impl From<UnboundedSender<String>> for Observer {
    fn from(lines: UnboundedSender<String>) -> Observer {
        Observer::Lines(lines)
    }
}

/// Where a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
    Sys,
}

impl Stream {
    pub fn mark(self) -> &'static str {
        match self {
            Stream::Out => "out",
            Stream::Err => "err",
            Stream::Sys => "sys",
        }
    }
}

/// A handle on the log; clones write to the same file.
#[derive(Clone)]
pub struct Log {
    inner: Arc<Mutex<Inner>>,
    path: PathBuf,
}

struct Inner {
    file: File,
    written: u64,
    cap: u64,
    capped: bool,
    failed: Option<io::Error>,
    /// The log is stored: the store may keep this very file, which must not change now.
    sealed: bool,
    /// A live reader hears of every write.
    observer: Option<Observer>,
}

/// Room kept under the cap for the line that says the cap was reached.
const CAP_NOTE_ROOM: u64 = 200;

impl Log {
    pub fn create(path: &Path, cap: u64, observer: Option<Observer>) -> io::Result<Log> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = File::create(path)?;
        let inner =
            Inner { file, written: 0, cap, capped: false, failed: None, sealed: false, observer };
        Ok(Log { inner: Arc::new(Mutex::new(inner)), path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn out(&self, text: &str) {
        self.line(Stream::Out, text);
    }

    pub fn err(&self, text: &str) {
        self.line(Stream::Err, text);
    }

    pub fn sys(&self, text: &str) {
        self.line(Stream::Sys, text);
    }

    /// Writes one line; `text` holds no newline (one is stripped if there).
    pub fn line(&self, stream: Stream, text: &str) {
        self.lines(stream, &[text]);
    }

    /// Writes lines that came together, stamped with the same time, in one write: a process
    /// that prints fast costs a write per read, not per line.
    pub fn lines(&self, stream: Stream, texts: &[&str]) {
        let stamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = String::new();
        for text in texts {
            if inner.capped {
                break;
            }
            let text = text.strip_suffix('\n').unwrap_or(text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            let size = (stamp.len() + 5 + text.len() + 1) as u64;
            if inner.written + batch.len() as u64 + size + CAP_NOTE_ROOM > inner.cap {
                inner.capped = true;
                let _ = writeln!(
                    batch,
                    "{stamp} sys the log reached its limit of {} bytes; further output is dropped",
                    inner.cap
                );
                break;
            }
            let _ = writeln!(batch, "{stamp} {} {text}", stream.mark());
        }
        if !batch.is_empty() {
            inner.write(batch);
        }
    }

    /// Ends the log: lines written after this are dropped (and the observer is let go), so
    /// that the file can be stored as it is.
    pub fn seal(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.sealed = true;
        inner.observer = None;
    }

    /// The first write that failed, if any.
    pub fn failure(&self) -> Option<String> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.failed.as_ref().map(|e| format!("cannot write the log {}: {e}", self.path.display()))
    }
}

impl Inner {
    /// Writes whole lines, and hands them to the observer.
    fn write(&mut self, lines: String) {
        if self.failed.is_some() || self.sealed {
            return;
        }
        match self.file.write_all(lines.as_bytes()) {
            Ok(()) => self.written += lines.len() as u64,
            Err(error) => self.failed = Some(error),
        }
        let heard = match &self.observer {
            Some(Observer::Lines(observer)) => observer.send(lines).is_ok(),
            Some(Observer::Length(observer)) => observer.send(self.written).is_ok(),
            None => true,
        };
        if !heard {
            // The reader went away; the log goes on without it.
            self.observer = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sealed_log_takes_no_more_lines_and_tells_its_length_until_then() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("run.log");
        let (length, mut told) = watch::channel(0);
        let log = Log::create(&path, 1 << 20, Some(Observer::Length(length))).unwrap();
        log.out("built");
        let written = std::fs::metadata(&path).unwrap().len();
        assert_eq!(*told.borrow_and_update(), written);
        log.seal();
        log.err("after the seal");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), written, "the file stays as stored");
        assert!(told.changed().await.is_err(), "the reader hears that the log has ended");
        assert!(std::fs::read_to_string(&path).unwrap().ends_with(" out built\n"));
    }
}
