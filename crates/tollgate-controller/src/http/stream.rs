//! The decision log as server-sent events (`GET /api/events/stream`): each event once, in
//! order, as it is committed. The stream waits for the state's next write, never a timer, so
//! a page or `stage --wait` learns of a decision at once. Each event's SSE id is its `seq`: a
//! client that reconnects with `Last-Event-ID` (as a browser's `EventSource` does) misses
//! nothing.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::watch;
use tollgate_api::{EventView, MAX_PAGE};
use tollgate_state::Cursor;

use crate::controller::Controller;
use crate::error::ControllerError;

/// A comment this often keeps proxies from closing a quiet stream.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Deserialize)]
pub struct StreamQuery {
    /// Events after this `seq`; without it (and without `Last-Event-ID`), those from now on.
    after: Option<i64>,
    /// Only this integration's events.
    integration: Option<i64>,
    /// Every event as an unnamed `message`: a page's `EventSource` listens to one name.
    #[serde(default)]
    plain: bool,
}

/// The cursor a reconnecting `EventSource` sends.
pub(crate) fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers.get("last-event-id")?.to_str().ok()?.trim().parse().ok()
}

pub async fn events(
    State(controller): State<Arc<Controller>>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ControllerError> {
    // Subscribed before the first read: a write between the read and the wait still wakes.
    let writes = controller.db.writes();
    let after = match query.after.or_else(|| last_event_id(&headers)) {
        Some(after) => after,
        None => controller.db.last_event().await?,
    };
    let follower = Follower { controller, integration: query.integration, after, writes };
    let plain = query.plain;
    let stream = futures_util::stream::unfold(
        (follower, VecDeque::new()),
        move |(mut follower, mut pending)| async move {
            loop {
                if let Some(event) = pending.pop_front() {
                    return Some((Ok(sse(&event, plain)), (follower, pending)));
                }
                pending.extend(follower.next_page().await?);
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

struct Follower {
    controller: Arc<Controller>,
    integration: Option<i64>,
    after: i64,
    writes: watch::Receiver<u64>,
}

impl Follower {
    /// The events after the cursor, waiting for a write while there are none; `None` once the
    /// service stops (or the state cannot be read: the client reconnects and resumes).
    async fn next_page(&mut self) -> Option<Vec<EventView>> {
        loop {
            let db = &self.controller.db;
            let page = db.events(self.integration, Cursor::After(self.after), MAX_PAGE).await;
            let page = match page {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the decision log for a follower");
                    return None;
                }
            };
            if let Some(last) = page.items.last() {
                self.after = last.seq;
                return Some(page.items);
            }
            tokio::select! {
                changed = self.writes.changed() => changed.ok()?,
                () = self.controller.shutdown.cancelled() => return None,
            }
        }
    }
}

fn sse(event: &EventView, plain: bool) -> Event {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    let sse = Event::default().id(event.seq.to_string()).data(data);
    match plain {
        true => sse,
        false => sse.event(&event.kind),
    }
}
