//! A work item's log: the file while it grows (followed with `follow=true` until the work item
//! ends), or the stored copy once the file is gone or the result was reused.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tollgate_api::WorkItemState;
use tollgate_core::plan::BuildKey;
use tollgate_state::LogSource;
use tollgate_store::Digest;

use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

/// How often a followed log is looked at for more.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

#[derive(Deserialize)]
pub struct LogQuery {
    item: String,
    integration: Option<i64>,
    #[serde(default)]
    follow: bool,
    /// The stream starts at this byte of the log (a page that showed what came before).
    from: Option<u64>,
}

pub async fn log(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<LogQuery>,
) -> Result<Response, ControllerError> {
    let source = controller
        .db
        .log_of(query.integration, &query.item)
        .await?
        .ok_or_else(|| unknown_item(&query))?;
    let body = match open_now(&controller, &source).await? {
        Some(Opened::Live(file)) => {
            Body::from_stream(follow(controller, source, file, query.follow, query.item))
        }
        // Streamed like the file: a log may be hundreds of megabytes.
        Some(Opened::Stored(file)) => {
            let heading = reused_heading(&controller, &source).await;
            let heading = futures_util::stream::iter(heading.map(|line| Ok(Bytes::from(line))));
            Body::from_stream(heading.chain(follow(controller, source, file, false, query.item)))
        }
        None => Body::from(format!("{}: no log yet ({})\n", query.item, source.state.as_str())),
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

fn unknown_item(query: &LogQuery) -> ControllerError {
    let within = query.integration.map_or(String::new(), |id| format!(" in integration {id}"));
    ControllerError::NotFound(format!("no work item `{}`{within}", query.item))
}

/// The first line of a reused work item's log: the log is that of the earlier run whose
/// result it reused, and says so.
async fn reused_heading(controller: &Controller, source: &LogSource) -> Option<String> {
    if source.state != WorkItemState::Reused {
        return None;
    }
    let key = BuildKey::from_hex(&source.build_key)?;
    let store = controller.runner.store().clone();
    let record = blocking(move || store.record(&key)).await.ok()?.ok().flatten();
    let run = match &record {
        Some(record) => format!(
            "of {}, run at {}",
            record.work_item,
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + Duration::from_millis(record.started_unix_ms)
            )
        ),
        None => "of an earlier run".to_owned(),
    };
    Some(format!(
        "tollgate: nothing ran: this work item reused the passed result with the same build key ({key}) {run}; the log below is that run's\n"
    ))
}

/// The log file's bytes as they come; with `follow`, until the work item has ended and the
/// file has nothing more.
fn follow(
    controller: Arc<Controller>,
    source: LogSource,
    file: tokio::fs::File,
    follow: bool,
    item: String,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let state = Some((file, controller, source, item));
    futures_util::stream::unfold(state, move |state| async move {
        let (mut file, controller, source, item) = state?;
        let mut buffer = vec![0; 64 << 10];
        loop {
            match file.read(&mut buffer).await {
                Ok(0) => {}
                Ok(read) => {
                    buffer.truncate(read);
                    return Some((Ok(Bytes::from(buffer)), Some((file, controller, source, item))));
                }
                Err(error) => return Some((Err(error), None)),
            }
            if !follow {
                return None;
            }
            let state = controller.db.item_state(source.integration, &item).await;
            let running = matches!(state, Ok(Some(state)) if !state.is_final());
            if !running {
                // One more read: the last lines may have come with the end.
                match file.read(&mut buffer).await {
                    Ok(read) if read > 0 => {
                        buffer.truncate(read);
                        return Some((
                            Ok(Bytes::from(buffer)),
                            Some((file, controller, source, item)),
                        ));
                    }
                    _ => return None,
                }
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    })
}

/// A log as it is now.
enum Opened {
    /// The file, which may still grow.
    Live(tokio::fs::File),
    /// The stored copy, whole.
    Stored(tokio::fs::File),
}

/// The growing file while there is one, else the stored copy; none when nothing is written.
async fn open_now(
    controller: &Controller,
    source: &LogSource,
) -> Result<Option<Opened>, ControllerError> {
    if let Some(path) = &source.path
        && let Ok(file) = tokio::fs::File::open(path).await
    {
        return Ok(Some(Opened::Live(file)));
    }
    match &source.digest {
        Some(digest) => Ok(Some(Opened::Stored(stored(controller, digest).await?))),
        None => Ok(None),
    }
}

/// A stored log, fetched from the store into a scratch file that is open and already
/// unlinked, so that nothing is left behind however the response ends.
async fn stored(controller: &Controller, digest: &str) -> Result<tokio::fs::File, ControllerError> {
    let digest: Digest = digest
        .parse()
        .map_err(|_| ControllerError::System(format!("`{digest}` is not a digest")))?;
    let store = controller.runner.store().clone();
    let scratch = controller.config.data_dir.join("tmp");
    let file = blocking(move || {
        std::fs::create_dir_all(&scratch).map_err(|error| error.to_string())?;
        let folder = tempfile::tempdir_in(&scratch).map_err(|error| error.to_string())?;
        let path = folder.path().join("log");
        match store.fetch(&digest, &path) {
            Ok(true) => std::fs::File::open(&path).map_err(|error| error.to_string()),
            Ok(false) => Err(format!("the log {digest} is not in the store")),
            Err(error) => Err(error.to_string()),
        }
    })
    .await?
    .map_err(ControllerError::System)?;
    Ok(tokio::fs::File::from_std(file))
}

/// Where a followed log is read from.
enum Reading {
    /// Nothing yet: the work item waits to start.
    NotYet,
    /// It started, but its file is not there yet: the first write wakes the follower.
    Starting(tokio::sync::watch::Receiver<u64>),
    /// The file as it grows, with what wakes the follower when it is written.
    Live(tokio::fs::File, tokio::sync::watch::Receiver<u64>),
    /// A stored log, whole: it grows no more.
    Stored(tokio::fs::File),
}

/// A log followed as server-sent events: its state between two events.
struct LogFollower {
    controller: Arc<Controller>,
    integration: Option<i64>,
    item: String,
    reading: Reading,
    /// Bytes of the file sent, and read but not sent (the start of a line not ended yet).
    offset: u64,
    carry: Vec<u8>,
    /// The state's writes: the work item started, or ended.
    writes: tokio::sync::watch::Receiver<u64>,
    ended: bool,
    /// Whether the work item may have ended since it was last asked: only a write of the
    /// state can end it, so a write of the log alone costs no query.
    ask_state: bool,
    /// A reused work item's first line, which says whose log follows; sent before it.
    heading: Option<String>,
}

/// `GET /api/log/stream`: the log as server-sent events, woken by each write of the file.
pub async fn stream(
    State(controller): State<Arc<Controller>>,
    headers: axum::http::HeaderMap,
    Query(query): Query<LogQuery>,
) -> Result<Response, ControllerError> {
    // Known now, so that a wrong name is a 404 rather than a stream that never ends.
    if controller.db.log_of(query.integration, &query.item).await?.is_none() {
        return Err(unknown_item(&query));
    }
    let follower = LogFollower {
        writes: controller.db.writes(),
        controller,
        integration: query.integration,
        item: query.item,
        reading: Reading::NotYet,
        offset: super::stream::last_event_id(&headers)
            .map(|id| id.max(0) as u64)
            .or(query.from)
            .unwrap_or(0),
        carry: Vec::new(),
        ended: false,
        ask_state: true,
        heading: None,
    };
    let events = futures_util::stream::unfold(follower, |mut follower| async move {
        let event = follower.next().await?;
        Some((Ok::<_, std::convert::Infallible>(event), follower))
    });
    let keep_alive = axum::response::sse::KeepAlive::new().interval(super::stream::KEEP_ALIVE);
    Ok(axum::response::sse::Sse::new(events).keep_alive(keep_alive).into_response())
}

impl LogFollower {
    /// The next piece of whole lines, or `end` once the work item has ended and all is sent.
    async fn next(&mut self) -> Option<axum::response::sse::Event> {
        use axum::response::sse::Event;
        if self.ended {
            return None;
        }
        loop {
            if let Some(piece) = self.read().await {
                return Some(piece);
            }
            let final_now = std::mem::take(&mut self.ask_state) && self.is_final().await;
            // Read once more after the end was seen: the last lines come with it.
            if final_now
                && !matches!(self.reading, Reading::NotYet)
                && let Some(piece) = self.read().await
            {
                return Some(piece);
            }
            if final_now || matches!(self.reading, Reading::Stored(_)) {
                self.ended = true;
                return Some(Event::default().event("end").data(self.offset.to_string()));
            }
            let wrote = async {
                match &mut self.reading {
                    Reading::Live(_, written) | Reading::Starting(written) => {
                        written.changed().await.is_ok()
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = wrote => {}
                changed = self.writes.changed() => {
                    changed.ok()?;
                    self.ask_state = true;
                }
                () = self.controller.shutdown.cancelled() => return None,
                // A writer that did not say so (a file written by hand) is still seen.
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Whether nothing more will be written: the work item has ended.
    async fn is_final(&self) -> bool {
        let Ok(source) = self.controller.db.log_of(self.integration, &self.item).await else {
            return false;
        };
        source.is_none_or(|source| source.state.is_final())
    }

    /// Whole lines read past the offset, if any; opens the log first when it is there now.
    async fn read(&mut self) -> Option<axum::response::sse::Event> {
        if matches!(self.reading, Reading::NotYet | Reading::Starting(_))
            && let Some(reading) = self.open().await
        {
            self.reading = reading;
        }
        if let Some(heading) = self.heading.take() {
            let heading = heading.trim_end_matches('\n').to_owned();
            return Some(axum::response::sse::Event::default().data(heading));
        }
        let file = match &mut self.reading {
            Reading::Live(file, _) | Reading::Stored(file) => file,
            Reading::NotYet | Reading::Starting(_) => return None,
        };
        let mut buffer = vec![0; 64 << 10];
        loop {
            let read = file.read(&mut buffer).await.ok()?;
            if read == 0 {
                break;
            }
            self.carry.extend_from_slice(&buffer[..read]);
            if self.carry.len() > 256 << 10 {
                break;
            }
        }
        // A stored log's last line may have no newline: it is whole all the same.
        let stored = matches!(self.reading, Reading::Stored(_));
        let end = match self.carry.iter().rposition(|&b| b == b'\n') {
            Some(at) => at + 1,
            None if stored && !self.carry.is_empty() => self.carry.len(),
            None => return None,
        };
        let piece: Vec<u8> = self.carry.drain(..end).collect();
        self.offset += piece.len() as u64;
        let text = String::from_utf8_lossy(&piece);
        // SSE cannot carry a carriage return; a progress bar's become line ends.
        let text = text.trim_end_matches('\n').replace('\r', "\n");
        let event = axum::response::sse::Event::default().id(self.offset.to_string());
        Some(event.data(text))
    }

    /// The log as it is now: the growing file, or the stored copy, at the offset.
    async fn open(&mut self) -> Option<Reading> {
        use tokio::io::AsyncSeekExt;
        let source = self.controller.db.log_of(self.integration, &self.item).await.ok()??;
        let mut waiting = None;
        let mut reading = None;
        if let Some(path) = &source.path {
            // Followed before it is opened: no write between the two is missed.
            let written = self.controller.logs.follow(std::path::Path::new(path));
            match tokio::fs::File::open(path).await {
                Ok(file) => reading = Some(Reading::Live(file, written)),
                Err(_) => waiting = Some(written),
            }
        }
        if reading.is_none()
            && let Some(digest) = &source.digest
        {
            let file = stored(&self.controller, digest).await.ok()?;
            // Said once, at the start: not a byte of the stored log, so not in the offset.
            if self.offset == 0 {
                self.heading = reused_heading(&self.controller, &source).await;
            }
            reading = Some(Reading::Stored(file));
        }
        let mut reading = match (reading, waiting) {
            (Some(reading), _) => reading,
            (None, Some(written)) => return Some(Reading::Starting(written)),
            (None, None) => return None,
        };
        if let Reading::Live(file, _) | Reading::Stored(file) = &mut reading {
            file.seek(std::io::SeekFrom::Start(self.offset)).await.ok()?;
        }
        Some(reading)
    }
}

/// The end of a work item's log, for its page: whole lines, at most `most` bytes of them.
pub(crate) struct LogTail {
    /// The first line of a reused work item's log, which says whose run it is.
    pub heading: Option<String>,
    pub text: String,
    /// Bytes of the log before `text`, left out.
    pub skipped: u64,
    /// The log's length when it was read: where a stream of what follows starts.
    pub end: u64,
}

pub(crate) async fn log_tail(
    controller: &Controller,
    integration: i64,
    item: &str,
    most: u64,
) -> Result<Option<LogTail>, ControllerError> {
    let Some(source) = controller.db.log_of(Some(integration), item).await? else {
        return Ok(None);
    };
    let file = match open_now(controller, &source).await {
        Ok(Some(Opened::Live(file) | Opened::Stored(file))) => file,
        Ok(None) => return Ok(None),
        // The page still shows the rest of the work item, and says what is wrong.
        Err(error) => {
            let heading = Some(format!("tollgate: the stored log cannot be read: {error}\n"));
            return Ok(Some(LogTail { heading, text: String::new(), skipped: 0, end: 0 }));
        }
    };
    let heading = reused_heading(controller, &source).await;
    let tail = blocking(move || read_tail(file.try_into_std().ok()?, most).ok()).await?;
    Ok(tail.map(|(text, skipped, end)| LogTail { heading, text, skipped, end }))
}

/// The last whole lines of a file within `most` bytes, how many bytes come before them, and
/// the file's length; a line still being written is left for the stream.
fn read_tail(mut file: std::fs::File, most: u64) -> std::io::Result<(String, u64, u64)> {
    use std::io::{Read, Seek};
    let len = file.metadata()?.len();
    let start = len.saturating_sub(most);
    file.seek(std::io::SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(len - start).read_to_end(&mut bytes)?;
    // From the first whole line, unless the tail starts at the beginning.
    let from = match start {
        0 => 0,
        _ => bytes.iter().position(|&b| b == b'\n').map_or(bytes.len(), |at| at + 1),
    };
    let to = bytes.iter().rposition(|&b| b == b'\n').map_or(from, |at| (at + 1).max(from));
    let text = String::from_utf8_lossy(&bytes[from..to]).into_owned();
    Ok((text, start + from as u64, start + to as u64))
}
