//! Server-sent events over real HTTP: the decision log as it is committed, resumed from
//! `Last-Event-ID`, and a work item's log line by line while it runs, then its end.

use tollgate_api::{ChangeState, EventView};

use crate::support::{Gate, Setup, within};

/// One server-sent event: its name (`message` when it has none), id and data.
#[derive(Debug)]
struct Sse {
    event: String,
    id: Option<String>,
    data: String,
}

/// Reads a `text/event-stream` answer an event at a time.
struct Reader {
    response: reqwest::Response,
    buffer: String,
}

impl Reader {
    async fn open(gate: &Gate, path: &str, last_event_id: Option<&str>) -> Reader {
        let mut request = reqwest::Client::new().get(gate.url(path));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Reader { response, buffer: String::new() }
    }

    /// The next event (keep-alive comments skipped); `None` when the stream ended.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                let mut sse = Sse { event: "message".into(), id: None, data: String::new() };
                let mut data = Vec::new();
                for line in block.lines() {
                    match line.split_once(':') {
                        Some(("event", value)) => sse.event = value.trim_start().to_owned(),
                        Some(("id", value)) => sse.id = Some(value.trim_start().to_owned()),
                        Some(("data", value)) => {
                            data.push(value.strip_prefix(' ').unwrap_or(value))
                        }
                        _ => {}
                    }
                }
                if data.is_empty() && sse.id.is_none() {
                    continue;
                }
                sse.data = data.join("\n");
                return Some(sse);
            }
            let chunk =
                tokio::time::timeout(std::time::Duration::from_secs(60), self.response.chunk());
            let chunk = chunk.await.expect("an event within a minute").unwrap()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Events until one named `name`, which is returned with those before it.
    async fn until(&mut self, name: &str) -> Vec<Sse> {
        let mut seen = Vec::new();
        while let Some(sse) = self.next().await {
            let done = sse.event == name;
            seen.push(sse);
            if done {
                return seen;
            }
        }
        panic!("the stream ended before `{name}`: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_log_streams_as_it_is_committed_and_resumes_from_the_last_event_id() {
    let gate = Gate::start(Setup::default()).await;
    let mut follower = Reader::open(&gate, "/api/events/stream", None).await;
    let change = gate.commit("demo/app", "origin/main", &[("s.txt", "s\n")], "Streamed");
    let staged = gate.stage(&[&change]).await;
    let seen = follower.until("pushed").await;
    let kinds: Vec<&str> = seen.iter().map(|sse| sse.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"staged"), "{kinds:?}");
    for kind in ["integration_formed", "work_item_started", "work_item_finished", "gate_decided"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // Each event's data is the API's event, its id the event's seq, in order.
    let events: Vec<EventView> =
        seen.iter().map(|sse| serde_json::from_str(&sse.data).unwrap()).collect();
    for (sse, event) in seen.iter().zip(&events) {
        assert_eq!(sse.id.as_deref(), Some(event.seq.to_string().as_str()));
        assert_eq!(sse.event, event.kind);
    }
    assert!(events.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert_eq!(events[0].change, Some(staged[0].id));
    assert_eq!(gate.ended(&staged).await[0].state, ChangeState::Merged);

    // A reconnect with the id of the first event gets the second one next, and nothing twice.
    let first = seen[0].id.as_deref().unwrap();
    let mut resumed = Reader::open(&gate, "/api/events/stream", Some(first)).await;
    let next = resumed.next().await.unwrap();
    assert_eq!(next.id.as_deref(), seen[1].id.as_deref());
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_items_log_streams_while_it_runs_and_ends_when_it_has() {
    let gate = Gate::start(Setup::default()).await;
    let change = gate.commit("demo/app", "origin/main", &[("hold", ""), ("h.txt", "h\n")], "Held");
    let staged = gate.stage(&[&change]).await;
    let db = gate.controller().db();
    let integration =
        within(|| async { db.change(staged[0].id).await.unwrap().unwrap().integration }).await;
    // Planned, but the library's build runs first: followed before it starts, the stream
    // waits for the log.
    within(|| async { db.item_state(integration, "demo/app:linux:Build").await.unwrap() }).await;
    let path = format!("/api/log/stream?item=demo/app:linux:Build&integration={integration}");
    let mut follower = Reader::open(&gate, &path, None).await;
    let mut text = String::new();
    while !text.contains("building app") {
        let piece = follower.next().await.unwrap();
        assert_eq!(piece.event, "message", "{piece:?}");
        text.push_str(&piece.data);
        text.push('\n');
    }
    // The build is held: what came is what it wrote so far, while it runs.
    let running = db.item_state(integration, "demo/app:linux:Build").await.unwrap();
    assert_eq!(running, Some(tollgate_api::WorkItemState::Running));
    gate.go();
    let rest = follower.until("end").await;
    let all: String = rest
        .iter()
        .filter(|sse| sse.event == "message")
        .map(|sse| sse.data.clone() + "\n")
        .collect();
    text.push_str(&all);
    assert!(text.contains("demo/app:linux:Build passed"), "{text}");
    // The ids are byte offsets: the last one is the whole log's length.
    let file = std::fs::read_to_string(
        db.log_of(Some(integration), "demo/app:linux:Build").await.unwrap().unwrap().path.unwrap(),
    )
    .unwrap();
    assert_eq!(rest.last().unwrap().data, file.len().to_string());
    assert_eq!(text, file.lines().map(|line| format!("{line}\n")).collect::<String>());
    assert!(follower.next().await.is_none(), "the stream ends after `end`");
    // A work item that is not there is a 404, not a stream.
    let missing = reqwest::get(gate.url("/api/log/stream?item=demo/app:nope:Build")).await.unwrap();
    assert_eq!(missing.status(), 404);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_at_a_base_path_every_route_and_link_is_under_it() {
    let gate = Gate::start(Setup { base_path: "/tollgate", ..Setup::default() }).await;
    let get = |path: &str| reqwest::get(gate.url(path));
    let status = get("/tollgate/api/status").await.unwrap();
    assert_eq!(status.status(), 200);
    let outside = get("/api/status").await.unwrap();
    assert_eq!(outside.status(), 404);
    let error: serde_json::Value = outside.json().await.unwrap();
    assert_eq!(error["error"], "no route GET /api/status");
    // The page links under the base path.
    let page = get("/tollgate/").await.unwrap().text().await.unwrap();
    assert!(page.contains("href=\"/tollgate/api/status\""), "{page}");
    // Streams and the checks of tokens see the routes as they are.
    let mut follower = Reader::open(&gate, "/tollgate/api/events/stream", None).await;
    let change = gate.commit("demo/app", "origin/main", &[("p.txt", "p\n")], "Proxied");
    let staged = gate.stage(&[&change]).await;
    assert_eq!(follower.next().await.unwrap().event, "staged");
    assert_eq!(gate.ended(&staged).await[0].state, ChangeState::Merged);
    let healthy = get("/tollgate/healthz").await.unwrap();
    assert_eq!(healthy.status(), 200);
    gate.stop().await;
}
