//! The agents' routes (`/api/agent/…`, see `tollgate_api::AgentOffer` for the protocol):
//! register, long-poll for work with heartbeats, report under a lease, the log as it grows,
//! blobs by digest, and the projects' repositories over git's smart HTTP.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tollgate_api::{
    AgentHello, AgentPoll, AgentPolled, AgentReport, AgentView, AgentWelcome, WorkItemState,
};
use tollgate_core::plan::BuildKey;
use tollgate_store::{Digest, Record, Store};

use crate::agents::{NotLive, Reported, Seen, offer};
use crate::controller::Controller;
use crate::error::{ControllerError, blocking};
use crate::http::auth::Caller;

type Answer<T> = Result<Json<T>, ControllerError>;

/// The longest a poll is held when there is no work: below the idle timeouts of the usual
/// reverse proxies.
const LONGEST_POLL: Duration = Duration::from_secs(30);

pub async fn register(
    State(controller): State<Arc<Controller>>,
    caller: Option<Extension<Caller>>,
    Json(hello): Json<AgentHello>,
) -> Answer<AgentWelcome> {
    let name = hello.info.name.clone();
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 64 || !name.chars().all(fits) {
        return Err(ControllerError::BadRequest(format!(
            "`{name}` is not an agent name: 1 to 64 letters, digits, `.`, `_` and `-`"
        )));
    }
    let info =
        serde_json::to_string(&hello.info).map_err(|e| ControllerError::System(e.to_string()))?;
    // A name belongs to the token that registered it, until that token is revoked: another
    // agent's token cannot take over its leases.
    let token = caller.map(|Extension(caller)| caller.name);
    if let Some(Some(owner)) = controller.db.agent_token(&name).await?
        && Some(&owner) != token.as_ref()
        && controller.tokens.is_active(&owner)
    {
        return Err(ControllerError::Forbidden(format!(
            "agent {name} belongs to the token `{owner}`; revoke it to give the name to another"
        )));
    }
    controller.db.agent_registered(&name, &info, token.as_deref()).await?;
    let spec = controller.agents.register(hello.info, tollgate_state::now_ms(), token);
    tracing::info!(agent = name, templates = ?spec.templates, slots = spec.slots, "agent registered");
    controller.pool.connect(spec);
    Ok(Json(welcome(&controller, &name, &hello.running, false)))
}

/// Refuses a request for an agent made with another token than the one it registered with.
fn speaks_for(
    controller: &Controller,
    agent: &str,
    caller: Option<&Extension<Caller>>,
) -> Result<(), ControllerError> {
    let token = caller.map(|Extension(caller)| caller.name.as_str());
    match controller.agents.belongs(agent, token) {
        true => Ok(()),
        false => {
            Err(ControllerError::Forbidden(format!("agent {agent} registered with another token")))
        }
    }
}

fn welcome(controller: &Controller, name: &str, running: &[i64], drain: bool) -> AgentWelcome {
    let leases = &controller.pool.leases;
    AgentWelcome {
        lease_ms: leases.term.as_millis() as u64,
        drop: leases.renew(name, running),
        drain,
    }
}

pub async fn poll(
    State(controller): State<Arc<Controller>>,
    caller: Option<Extension<Caller>>,
    Json(poll): Json<AgentPoll>,
) -> Answer<AgentPolled> {
    speaks_for(&controller, &poll.name, caller.as_ref())?;
    let Some(draining) = controller.agents.seen(&poll.name, poll.draining) else {
        return Err(ControllerError::Conflict(format!(
            "agent {} is not registered with this controller; register first",
            poll.name
        )));
    };
    let welcome = welcome(&controller, &poll.name, &poll.running, draining);
    let wait = Duration::from_millis(poll.wait_ms).min(LONGEST_POLL);
    let deadline = tokio::time::Instant::now() + wait;
    let pool = &controller.pool;
    loop {
        let changed = pool.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if !draining && let Some((job, lease)) = pool.take(&controller.db, &poll.name, true).await {
            let (store, salt) = (controller.store.clone(), controller.config.salt.clone());
            let item = job.item.clone();
            let made = blocking(move || offer(&job, lease, &salt, &*store)).await?;
            match made {
                Ok(offer) => {
                    tracing::info!(agent = poll.name, lease, item = offer.work_item, "leased");
                    return Ok(Json(AgentPolled { welcome, offer: Some(offer) }));
                }
                // Ended as a system error: what the controller cannot give is not the
                // change's fault, and the work item runs again.
                Err(error) => {
                    tracing::error!(lease, %error, "cannot make the offer of a lease");
                    let message = format!("the controller cannot offer the work item: {error}");
                    let failure = tollgate_runner::failure_view(&item, None, &message);
                    let report = AgentReport {
                        lease,
                        agent: poll.name.clone(),
                        state: WorkItemState::Error,
                        failure: Some(failure),
                        record: None,
                    };
                    if let Ok(sender) = controller.pool.leases.report(lease, &poll.name) {
                        let (ack, _) = tokio::sync::oneshot::channel();
                        let _ = sender.send(Reported { report, ack });
                    }
                }
            }
        }
        tokio::select! {
            () = changed => {}
            () = tokio::time::sleep_until(deadline) => break,
            () = controller.shutdown.cancelled() => break,
        }
    }
    Ok(Json(AgentPolled { welcome, offer: None }))
}

pub async fn report(
    State(controller): State<Arc<Controller>>,
    caller: Option<Extension<Caller>>,
    Json(report): Json<AgentReport>,
) -> Result<StatusCode, ControllerError> {
    speaks_for(&controller, &report.agent, caller.as_ref())?;
    let record: Option<Record> = match &report.record {
        Some(json) => Some(serde_json::from_value(json.clone()).map_err(|error| {
            ControllerError::BadRequest(format!("the report's record: {error}"))
        })?),
        None => None,
    };
    // What the lease is of, before the report ends it.
    let leased = controller.pool.leases.leased(report.lease, &report.agent);
    // Every blob the record names is here before the record is: an upload that broke off
    // never becomes a result.
    if let Some(record) = &record {
        let store = controller.store.clone();
        let digests: Vec<Digest> =
            record.log.iter().chain(record.artifacts.values()).copied().collect();
        let (log, streamed) = (record.log, leased.as_ref().map(|l| l.log_path.clone()));
        let missing = blocking(move || {
            if let (Some(log), Some(streamed)) = (log, streamed) {
                store_streamed_log(&store, &log, &streamed);
            }
            digests.into_iter().find(|digest| !store.contains(digest).unwrap_or(false))
        })
        .await?;
        if let Some(digest) = missing {
            return Err(ControllerError::BadRequest(format!("blob {digest} was not uploaded")));
        }
    }
    let sender = match controller.pool.leases.report(report.lease, &report.agent) {
        Ok(sender) => sender,
        Err(NotLive::NotYet) => {
            return Ok(StatusCode::SERVICE_UNAVAILABLE);
        }
        Err(NotLive::Gone) => {
            tracing::warn!(
                agent = report.agent,
                lease = report.lease,
                "a report under a lease taken away was refused"
            );
            return Err(ControllerError::Conflict(format!(
                "lease {} is not yours any more: the work item was given to another run",
                report.lease
            )));
        }
    };
    let key = leased.and_then(|leased| BuildKey::from_hex(&leased.build_key));
    if let (Some(record), Some(key)) = (record, key) {
        let store = controller.store.clone();
        blocking(move || store.put_record(&key, &record))
            .await?
            .map_err(|error| ControllerError::System(format!("the store: {error}")))?;
    }
    let (ack, acked) = tokio::sync::oneshot::channel();
    let lease = report.lease;
    if sender.send(Reported { report, ack }).is_err() {
        return Err(ControllerError::Conflict(format!("lease {lease} ended meanwhile")));
    }
    match acked.await {
        Ok(Ok(())) => Ok(StatusCode::NO_CONTENT),
        Ok(Err(error)) => Err(ControllerError::Conflict(error)),
        Err(_) => Err(ControllerError::System("the work item's run ended meanwhile".into())),
    }
}

/// The log as it was streamed during the run is the log the record names, byte for byte,
/// unless a piece went missing: stored from that file when its digest says so, which spares
/// the agent sending it twice (the file itself, linked: the lease has ended, so no piece
/// changes it now). Otherwise the agent uploads it.
fn store_streamed_log(
    store: &tollgate_store::LocalStore,
    log: &Digest,
    streamed: &std::path::Path,
) {
    if !store.contains(log).unwrap_or(false) {
        let _ = store.put_finished_file(streamed, Some(log));
    }
}

#[derive(Deserialize)]
pub struct LogQuery {
    agent: String,
    offset: u64,
    /// The last piece: the run is over.
    #[serde(default)]
    end: bool,
}

/// A piece of a leased run's log, at `offset`: what is already there is skipped, so a piece
/// sent again after a broken connection is written once. Answers the length now. After the
/// last piece the agent's slot goes to the next work item while this one's report comes: the
/// lease still fences the report, and the work item is not over until it arrives.
pub async fn log(
    State(controller): State<Arc<Controller>>,
    caller: Option<Extension<Caller>>,
    Path(lease): Path<i64>,
    Query(query): Query<LogQuery>,
    body: Bytes,
) -> Result<String, ControllerError> {
    speaks_for(&controller, &query.agent, caller.as_ref())?;
    let Some(leased) = controller.pool.leases.leased(lease, &query.agent) else {
        return Err(ControllerError::Conflict(format!("lease {lease} is not live")));
    };
    let path = leased.log_path;
    // Written through before the answer: the length answered is on the file, where the next
    // piece's offset is checked against it. (An async file's write returns once handed over,
    // and a piece still in flight would make the next one look like a gap.)
    let (at, offset) = (path.clone(), query.offset);
    let length = blocking(move || append_at(&at, offset, &body)).await?.map_err(io(&path))?;
    let length = match length {
        Ok(length) => length,
        Err(length) => {
            return Err(ControllerError::Conflict(format!(
                "the log has {length} bytes; a piece at {offset} leaves a gap"
            )));
        }
    };
    controller.logs.wrote(&path);
    if query.end {
        controller.pool.release(&leased.key);
    }
    Ok(length.to_string())
}

/// Appends what of `piece` (which starts at byte `offset` of the log) the file lacks, and
/// answers the file's length then; `Err(length)` when the piece starts past the end.
fn append_at(
    path: &std::path::Path,
    offset: u64,
    piece: &[u8],
) -> std::io::Result<Result<u64, u64>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let length = file.metadata()?.len();
    if offset > length {
        return Ok(Err(length));
    }
    let skip = (length - offset).min(piece.len() as u64) as usize;
    file.write_all(&piece[skip..])?;
    Ok(Ok(length + (piece.len() - skip) as u64))
}

fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> ControllerError + '_ {
    move |error| ControllerError::System(format!("{}: {error}", path.display()))
}

fn digest(text: &str) -> Result<Digest, ControllerError> {
    text.parse().map_err(|_| ControllerError::BadRequest(format!("`{text}` is not a digest")))
}

/// A blob of the store, streamed.
pub async fn get_blob(
    State(controller): State<Arc<Controller>>,
    Path(text): Path<String>,
) -> Result<Response, ControllerError> {
    let path = controller.store.blob_path(&digest(&text)?);
    match tokio::fs::File::open(&path).await {
        Ok(file) => {
            let stream = tokio_util::io::ReaderStream::new(file);
            Ok(Body::from_stream(stream).into_response())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(ControllerError::NotFound(format!("no blob {text}")))
        }
        Err(error) => Err(io(&path)(error)),
    }
}

/// Whether the store has a blob: 204 or 404.
pub async fn has_blob(
    State(controller): State<Arc<Controller>>,
    Path(text): Path<String>,
) -> Result<StatusCode, ControllerError> {
    let (store, digest) = (controller.store.clone(), digest(&text)?);
    match blocking(move || store.contains(&digest)).await? {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Ok(StatusCode::NOT_FOUND),
        Err(error) => Err(ControllerError::System(format!("the store: {error}"))),
    }
}

/// Uploads a blob: streamed to a temporary file while hashed, and stored only when its
/// content has the digest it was sent under.
pub async fn put_blob(
    State(controller): State<Arc<Controller>>,
    Path(text): Path<String>,
    body: Body,
) -> Result<StatusCode, ControllerError> {
    let expected = digest(&text)?;
    let scratch = controller.config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&scratch).await.map_err(io(&scratch))?;
    let temp = tempfile::NamedTempFile::new_in(&scratch).map_err(io(&scratch))?;
    let mut file = tokio::fs::File::from_std(temp.reopen().map_err(io(temp.path()))?);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ControllerError::BadRequest(format!("the upload broke off: {error}"))
        })?;
        file.write_all(&chunk).await.map_err(io(temp.path()))?;
    }
    file.flush().await.map_err(io(temp.path()))?;
    let store = controller.store.clone();
    let stored = blocking(move || store.put_file_expecting(temp.path(), &expected)).await?;
    let got = stored.map_err(|error| ControllerError::System(format!("the store: {error}")))?;
    if got != expected {
        return Err(ControllerError::BadRequest(format!(
            "the upload has digest {got}, not {expected}"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ServiceQuery {
    service: Option<String>,
}

/// `GET /api/agent/git/PROJECT/info/refs?service=git-upload-pack` and
/// `POST /api/agent/git/PROJECT/git-upload-pack`: git's smart HTTP, read-only.
pub async fn git(
    State(controller): State<Arc<Controller>>,
    Path(rest): Path<String>,
    Query(query): Query<ServiceQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ControllerError> {
    let (project, advertise) = if let Some(project) = rest.strip_suffix("/info/refs") {
        if query.service.as_deref() != Some("git-upload-pack") {
            return Err(ControllerError::BadRequest("only git-upload-pack is served".into()));
        }
        (project, true)
    } else if let Some(project) = rest.strip_suffix("/git-upload-pack") {
        (project, false)
    } else {
        return Err(ControllerError::NotFound(format!("no git route {rest}")));
    };
    if controller.db.project(project).await?.is_none() {
        return Err(ControllerError::NotFound(format!("no project {project}")));
    }
    let repo = controller.mirrors.root().join(project);
    let protocol = headers.get("git-protocol").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let version_2 = protocol.as_deref().is_some_and(|p| p.contains("version=2"));
    let input = match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
        Some("gzip") => {
            let mut decoded = Vec::new();
            let mut decoder = flate2::write::GzDecoder::new(&mut decoded);
            decoder.write_all(&body).and_then(|()| decoder.finish().map(|_| ())).map_err(
                |error| ControllerError::BadRequest(format!("the request's gzip: {error}")),
            )?;
            decoded
        }
        _ => body.to_vec(),
    };
    let output = blocking(move || -> Result<Vec<u8>, String> {
        let mut command = tollgate_git::upload_pack(&repo, advertise, protocol.as_deref());
        command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
        let mut child = command.spawn().map_err(|error| format!("git upload-pack: {error}"))?;
        let mut stdin = child.stdin.take().expect("piped");
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let output =
            child.wait_with_output().map_err(|error| format!("git upload-pack: {error}"))?;
        let _ = writer.join();
        match output.status.success() {
            true => Ok(output.stdout),
            false => Err(format!(
                "git upload-pack exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )),
        }
    })
    .await?
    .map_err(ControllerError::System)?;
    let (kind, body) = match advertise {
        true => {
            let mut body = Vec::new();
            if !version_2 {
                body.extend_from_slice(b"001e# service=git-upload-pack\n0000");
            }
            body.extend_from_slice(&output);
            ("application/x-git-upload-pack-advertisement", body)
        }
        false => ("application/x-git-upload-pack-result", output),
    };
    Ok(([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response())
}

/// `GET /api/agents`: every agent, with what it runs now; those that registered before a
/// restart and not since are lost until they do.
pub async fn agents(State(controller): State<Arc<Controller>>) -> Answer<Vec<AgentView>> {
    let mut views: Vec<AgentView> =
        controller.agents.all().into_iter().map(|seen| view(&controller, seen)).collect();
    for known in controller.db.known_agents().await? {
        if views.iter().any(|view| view.info.name == known.name) {
            continue;
        }
        let info = serde_json::from_str(&known.info).unwrap_or_else(|_| tollgate_api::AgentInfo {
            name: known.name.clone(),
            ..Default::default()
        });
        views.push(AgentView {
            info,
            state: "lost".to_owned(),
            slots_busy: 0,
            running: Vec::new(),
            first_seen: known.first_seen,
            last_seen: known.last_seen,
        });
    }
    views.sort_by(|a, b| a.info.name.cmp(&b.info.name));
    Ok(Json(views))
}

fn view(controller: &Controller, seen: Seen) -> AgentView {
    let name = &seen.info.name;
    let mut running: Vec<String> = controller
        .pool
        .leases
        .of(name)
        .into_iter()
        .map(|(_, work)| format!("{}/{}", work.integration, work.item))
        .collect();
    running.sort();
    let slots_busy = controller.pool.load(name).map_or(0, |(busy, _)| busy);
    let state = match (seen.lost, seen.draining, running.is_empty()) {
        (true, ..) => "lost",
        (false, true, _) => "draining",
        (false, false, true) => "idle",
        (false, false, false) => "busy",
    };
    AgentView {
        info: seen.info,
        state: state.to_owned(),
        slots_busy,
        running,
        first_seen: seen.first_seen,
        last_seen: seen.last_seen,
    }
}

/// `POST /api/agents/{name}/drain`: the agent finishes what it runs, takes nothing new, exits.
pub async fn drain(
    State(controller): State<Arc<Controller>>,
    Path(name): Path<String>,
) -> Answer<AgentView> {
    let Some(seen) = controller.agents.drain(&name) else {
        return Err(ControllerError::NotFound(format!("no agent {name} is connected")));
    };
    controller.db.agent_seen(&name, true).await?;
    tracing::info!(agent = name, "asked to drain");
    Ok(Json(view(&controller, seen)))
}
