//! One process: started in a group of its own, its output streamed into the log line by line,
//! stopped by `maxTimeInSeconds`, `maxTimeBetweenOutput` or a cancellation.
//!
//! Stopping kills the whole process group at once (SIGKILL). In the sandbox that kills bwrap,
//! whose `--die-with-parent` then ends the command's PID namespace and every process in it, so
//! grandchildren go too, even those that left the group. When the process ends on its own, its
//! group is killed as well: nothing outlives its instruction except what the instruction starts
//! in the background on purpose.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use crate::log::{Log, Stream};
use tollgate_core::run::Timeout;

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    pub max_time: Option<Duration>,
    pub max_silence: Option<Duration>,
}

#[derive(Debug)]
pub(crate) enum Ended {
    Exited(i32),
    Signalled(i32),
    TimedOut(Timeout),
    Cancelled,
    /// The process could not be started.
    NotStarted(io::Error),
    /// Waiting for it failed: the system's fault.
    Lost(io::Error),
}

/// A line longer than this is split: a process that prints megabytes without a newline must
/// not hold them in memory.
const MAX_LINE: usize = 64 * 1024;
/// Most of stdout a process may hand back when it is captured rather than logged.
const MAX_CAPTURE: usize = 4 << 20;

/// How a process went.
pub(crate) struct Run {
    pub ended: Ended,
    /// Its stdout, when captured rather than logged.
    pub stdout: Vec<u8>,
    /// Its stderr began with the expected start line (always true when none is expected).
    pub started: bool,
}

/// Runs `command` to its end. With `capture`, stdout is returned instead of logged. With
/// `started_line`, stderr's first line is checked against it and left out of the log.
pub(crate) async fn run(
    mut command: Command,
    limits: Limits,
    cancel: &CancellationToken,
    log: &Log,
    capture: bool,
    started_line: Option<&'static str>,
) -> Run {
    let mut child = match spawn(&mut command) {
        Ok(child) => child,
        Err(error) => {
            return Run { ended: Ended::NotStarted(error), stdout: Vec::new(), started: false };
        }
    };
    let group = child.id();
    let activity = Arc::new(Notify::new());
    let (out, err) = pumps(&mut child, log, &activity, capture, started_line);

    let start = Instant::now();
    let total = limits.max_time.map(|d| start + d);
    let mut silence = limits.max_silence.map(|d| start + d);
    let ended = loop {
        tokio::select! {
            status = child.wait() => break match status {
                Ok(status) => from_status(status),
                Err(error) => Ended::Lost(error),
            },
            () = activity.notified() => silence = limits.max_silence.map(|d| Instant::now() + d),
            () = until(total) => break stop(&mut child, group, Ended::TimedOut(Timeout::Total)).await,
            () = until(silence) => break stop(&mut child, group, Ended::TimedOut(Timeout::Silence)).await,
            () = cancel.cancelled() => break stop(&mut child, group, Ended::Cancelled).await,
        }
    };
    kill_group(group);
    // The pipes close once every process holding them is gone; do not wait on a straggler
    // that escaped the group without a sandbox.
    let stdout = match timeout(Duration::from_secs(2), out).await {
        Ok(Ok(pumped)) => pumped.captured,
        _ => Vec::new(),
    };
    let started = match timeout(Duration::from_secs(2), err).await {
        Ok(Ok(pumped)) => pumped.started,
        _ => started_line.is_none(),
    };
    Run { ended, stdout, started }
}

/// Starts `command` in the background; its output goes on into the log. The caller kills its
/// group when the work item ends.
pub(crate) fn start_background(
    mut command: Command,
    log: &Log,
    started_line: Option<&'static str>,
) -> io::Result<Background> {
    let mut child = spawn(&mut command)?;
    let group = child.id();
    let activity = Arc::new(Notify::new());
    let (out, err) = pumps(&mut child, log, &activity, false, started_line);
    Ok(Background { child, group, pumps: [out, err] })
}

pub(crate) struct Background {
    child: Child,
    group: Option<u32>,
    pumps: [JoinHandle<Pumped>; 2],
}

impl Background {
    pub(crate) async fn stop(mut self) {
        kill_group(self.group);
        let _ = self.child.wait().await;
        for pump in self.pumps {
            let _ = timeout(Duration::from_secs(2), pump).await;
        }
    }
}

fn spawn(command: &mut Command) -> io::Result<Child> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
}

type Pipe = Box<dyn AsyncRead + Send + Unpin>;

fn pumps(
    child: &mut Child,
    log: &Log,
    activity: &Arc<Notify>,
    capture: bool,
    started_line: Option<&'static str>,
) -> (JoinHandle<Pumped>, JoinHandle<Pumped>) {
    let stdout = child.stdout.take().map(|pipe| Box::new(pipe) as Pipe);
    let stderr = child.stderr.take().map(|pipe| Box::new(pipe) as Pipe);
    let pump = |stream, capture, started_line| Pump {
        stream,
        log: log.clone(),
        activity: activity.clone(),
        capture,
        started_line,
    };
    let out = pump(Stream::Out, capture, None);
    let err = pump(Stream::Err, false, started_line);
    (tokio::spawn(out.run(stdout)), tokio::spawn(err.run(stderr)))
}

/// One of a process's streams, read to its end.
struct Pump {
    stream: Stream,
    log: Log,
    activity: Arc<Notify>,
    /// Keep the bytes instead of logging them.
    capture: bool,
    /// The line the stream must start with (the sandbox's), left out of the log.
    started_line: Option<&'static str>,
}

struct Pumped {
    captured: Vec<u8>,
    started: bool,
}

impl Pump {
    /// Reads the stream a line at a time into the log, or into the returned buffer.
    async fn run(self, pipe: Option<Pipe>) -> Pumped {
        let mut pumped = Pumped { captured: Vec::new(), started: self.started_line.is_none() };
        let Some(mut pipe) = pipe else { return pumped };
        let mut first = true;
        let mut line: Vec<u8> = Vec::new();
        let mut chunk = vec![0; 64 << 10];
        loop {
            let read = match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            self.activity.notify_one();
            if self.capture {
                let room = MAX_CAPTURE.saturating_sub(pumped.captured.len());
                pumped.captured.extend_from_slice(&chunk[..read.min(room)]);
                continue;
            }
            // The lines this read ended go to the log together.
            let mut ended: Vec<String> = Vec::new();
            for &byte in &chunk[..read] {
                if byte == b'\n' || line.len() >= MAX_LINE {
                    self.line(&line, &mut first, &mut pumped, &mut ended);
                    line.clear();
                    if byte == b'\n' {
                        continue;
                    }
                }
                line.push(byte);
            }
            let texts: Vec<&str> = ended.iter().map(String::as_str).collect();
            self.log.lines(self.stream, &texts);
        }
        if !line.is_empty() {
            let mut ended = Vec::new();
            self.line(&line, &mut first, &mut pumped, &mut ended);
            let texts: Vec<&str> = ended.iter().map(String::as_str).collect();
            self.log.lines(self.stream, &texts);
        }
        pumped
    }

    /// A line ended: the sandbox's start line is taken out, the others go to `ended`.
    fn line(&self, line: &[u8], first: &mut bool, pumped: &mut Pumped, ended: &mut Vec<String>) {
        let text = String::from_utf8_lossy(line);
        if std::mem::take(first) && self.started_line == Some(&*text) {
            pumped.started = true;
            return;
        }
        ended.push(text.into_owned());
    }
}

async fn stop(child: &mut Child, group: Option<u32>, why: Ended) -> Ended {
    kill_group(group);
    let _ = child.kill().await;
    why
}

/// SIGKILL to the whole group; a group that is gone already is fine.
fn kill_group(group: Option<u32>) {
    let pid = group.and_then(|id| i32::try_from(id).ok()).and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

fn from_status(status: ExitStatus) -> Ended {
    match (status.code(), status.signal()) {
        (Some(code), _) => Ended::Exited(code),
        (None, Some(signal)) => Ended::Signalled(signal),
        (None, None) => Ended::Exited(-1),
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
