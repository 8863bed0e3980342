//! The agent's side of the wire: the controller's agent routes (`tollgate_api::routes`), with
//! the token, and what each kind of failure means for the agent. A reader's client
//! ([`Client::reader`]) fetches sources and archives over the routes any reader may use, for
//! `tollgate reproduce`.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt;
use tollgate_api::{
    AgentHello, AgentPoll, AgentPolled, AgentReport, AgentWelcome, ApiError, routes,
};

/// A controller that takes no connection in this long is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A request other than a held poll or a blob's transfer that takes this long is lost.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a call got no answer the agent can use.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The controller is not there, failed (5xx), or is not ready: try again later.
    #[error("the controller is unavailable: {0}")]
    Down(String),
    /// The token is unknown or revoked: nothing will work until an operator mends it.
    #[error("the controller refused the token: {0}")]
    Unauthorized(String),
    /// The controller refused the request (409: the lease is not this agent's any more).
    #[error("the controller refused ({status}): {message}")]
    Refused { status: u16, message: String },
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    server: String,
    /// `Bearer SECRET`.
    authorization: Option<String>,
    /// Takes the readers' routes for git and blobs rather than the agents'.
    reader: bool,
}

impl Client {
    pub fn new(server: &str, token: Option<&str>) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|error| format!("the HTTP client: {error}"))?;
        let server = server.trim_end_matches('/').to_owned();
        let authorization = token.map(|token| format!("Bearer {token}"));
        Ok(Client { http, server, authorization, reader: false })
    }

    /// A client that fetches as a reader does, with a token of any role (or none, where reads
    /// need none).
    pub fn reader(server: &str, token: Option<&str>) -> Result<Client, String> {
        Ok(Client { reader: true, ..Client::new(server, token)? })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// The `Authorization` header's value, for git's requests.
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// The URL of a project's repository over git's smart HTTP.
    pub fn git_url(&self, project: &str) -> String {
        let path = match self.reader {
            true => routes::git(project),
            false => routes::agent_git(project),
        };
        format!("{}{path}", self.server)
    }

    fn blob_path(&self, digest: &str) -> String {
        match self.reader {
            true => routes::blob(digest),
            false => routes::agent_blob(digest),
        }
    }

    /// The JSON answer to a read.
    pub async fn get<A: DeserializeOwned>(&self, path: &str) -> Result<A, CallError> {
        let request = self.request(reqwest::Method::GET, path).timeout(ANSWER_TIMEOUT);
        let response = checked(request.send().await).await?;
        response.json().await.map_err(|error| CallError::Down(format!("the answer: {error}")))
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.server));
        match &self.authorization {
            Some(authorization) => request.header(reqwest::header::AUTHORIZATION, authorization),
            None => request,
        }
    }

    async fn call<B: Serialize, A: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<A, CallError> {
        let request = self.request(reqwest::Method::POST, path).json(body).timeout(timeout);
        let response = checked(request.send().await).await?;
        response.json().await.map_err(|error| CallError::Down(format!("the answer: {error}")))
    }

    pub async fn register(&self, hello: &AgentHello) -> Result<AgentWelcome, CallError> {
        self.call(routes::AGENT_REGISTER, hello, ANSWER_TIMEOUT).await
    }

    /// A poll held up to its `wait_ms` by the controller.
    pub async fn poll(&self, poll: &AgentPoll) -> Result<AgentPolled, CallError> {
        let timeout = Duration::from_millis(poll.wait_ms) + ANSWER_TIMEOUT;
        self.call(routes::AGENT_POLL, poll, timeout).await
    }

    pub async fn report(&self, report: &AgentReport) -> Result<(), CallError> {
        let request = self.request(reqwest::Method::POST, routes::AGENT_REPORT);
        checked(request.json(report).timeout(ANSWER_TIMEOUT).send().await).await?;
        Ok(())
    }

    /// Sends a piece of `lease`'s log that starts at byte `offset`, the last one when `end`;
    /// answers the log's length at the controller.
    pub async fn log(
        &self,
        lease: i64,
        agent: &str,
        offset: u64,
        piece: Vec<u8>,
        end: bool,
    ) -> Result<u64, CallError> {
        let path = routes::agent_log(lease, agent, offset, end);
        let request = self.request(reqwest::Method::POST, &path).body(piece);
        let response = checked(request.timeout(ANSWER_TIMEOUT).send().await).await?;
        let text = response.text().await.map_err(|error| CallError::Down(error.to_string()))?;
        text.trim().parse().map_err(|_| CallError::Down(format!("the log's length `{text}`")))
    }

    /// Whether the controller's store has the blob.
    pub async fn has_blob(&self, digest: &str) -> Result<bool, CallError> {
        let request = self.request(reqwest::Method::HEAD, &routes::agent_blob(digest));
        match request.timeout(ANSWER_TIMEOUT).send().await {
            Ok(response) if response.status() == StatusCode::NOT_FOUND => Ok(false),
            sent => checked(sent).await.map(|_| true),
        }
    }

    /// Uploads the file at `path` as the blob `digest`, streamed.
    pub async fn put_blob(&self, digest: &str, path: &Path) -> Result<(), CallError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|error| CallError::Down(format!("{}: {error}", path.display())))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let request = self.request(reqwest::Method::PUT, &routes::agent_blob(digest));
        checked(request.body(body).send().await).await?;
        Ok(())
    }

    /// Downloads the blob `digest` into `dest`, streamed.
    pub async fn get_blob(&self, digest: &str, dest: &Path) -> Result<(), CallError> {
        let request = self.request(reqwest::Method::GET, &self.blob_path(digest));
        let response = checked(request.send().await).await?;
        let local = |error: std::io::Error| CallError::Down(format!("{}: {error}", dest.display()));
        let mut file = tokio::fs::File::create(dest).await.map_err(local)?;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| CallError::Down(format!("the download: {error}")))?;
            file.write_all(&chunk).await.map_err(local)?;
        }
        file.flush().await.map_err(local)?;
        Ok(())
    }
}

/// A response with a success status, or what its failure means.
async fn checked(sent: Result<Response, reqwest::Error>) -> Result<Response, CallError> {
    let response = sent.map_err(|error| CallError::Down(describe(&error)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ApiError>(&text).map_or(text, |error| error.error);
    Err(match status {
        StatusCode::UNAUTHORIZED => CallError::Unauthorized(message),
        status if status.is_server_error() => CallError::Down(format!("{status}: {message}")),
        status => CallError::Refused { status: status.as_u16(), message },
    })
}

/// reqwest's error with its causes: "error sending request" alone says little.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
