//! Talking to `tollgate serve`: the `--server` and `--token-file` arguments, requests over the
//! API's routes, and what a failed request means for the exit status.
//!
//! A command runs as `client::run(&args.server, async |client| …)`: the runtime is built
//! there, and a [`ServiceError`] becomes a message and an exit status in one place.

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollgate_api::ApiError;
use tollgate_api::sse::{SseEvent, SseParser};

use super::{EXIT_SYSTEM, EXIT_USAGE};

/// A service that does not take a connection in this long is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A JSON answer takes a database read; one that takes this long is not coming. Logs stream
/// without a limit.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// The tollgate service to talk to.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "TOLLGATE_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// A file holding the token to send (`tollgate token add --out FILE` writes one); without
    /// it, the token in TOLLGATE_TOKEN, if any.
    #[arg(long, global = true, value_name = "FILE", value_parser = super::paths::absolute)]
    pub token_file: Option<PathBuf>,
}

/// The variable a token may come from when no `--token-file` is given. Not a flag: a secret on
/// the command line is seen by every user of the machine, in `ps`.
const TOKEN_VARIABLE: &str = "TOLLGATE_TOKEN";

impl ServerArgs {
    /// The token to send: the file's, or else the variable's.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        if let Some(file) = &self.token_file {
            let secret = tollgate_controller::secret::read_file(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?;
            return Ok(Some(secret));
        }
        let from_variable = std::env::var(TOKEN_VARIABLE).ok();
        Ok(from_variable.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty()))
    }
}

/// Why a request got no usable answer.
#[derive(Debug)]
pub enum ServiceError {
    /// Nothing answers at the server's address.
    Unreachable { server: String },
    /// The service answered with an error status.
    Refused { status: u16, error: String },
    /// The connection broke, or the answer is not what this tollgate's API says.
    Broken(String),
}

impl ServiceError {
    fn exit_code(&self) -> u8 {
        match self {
            // The request itself was wrong: an unknown project, a change that is not staged.
            ServiceError::Refused { status: 400..500, .. } => EXIT_USAGE,
            _ => EXIT_SYSTEM,
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Unreachable { server } => {
                write!(f, "no tollgate service at {server} (start one with `tollgate serve`)")
            }
            ServiceError::Refused { error, .. } => f.write_str(error),
            ServiceError::Broken(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for ServiceError {}

/// Runs `command` against the service named by `server`, on a runtime of its own.
pub fn run(
    server: &ServerArgs,
    command: impl AsyncFnOnce(&Client) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    let client = Client::new(&server.server, server.token()?)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match runtime.block_on(command(&client)) {
        Err(error) => match error.downcast_ref::<ServiceError>() {
            Some(service) => {
                eprintln!("tollgate: {service}");
                Ok(ExitCode::from(service.exit_code()))
            }
            None => Err(error),
        },
        done => done,
    }
}

pub struct Client {
    http: reqwest::Client,
    /// The server's URL without a trailing slash; routes start with one.
    base: String,
    /// Whether requests carry a token, to say what a 401 means.
    sends_token: bool,
}

impl Client {
    fn new(server: &str, token: Option<String>) -> anyhow::Result<Client> {
        let url = Url::parse(server).with_context(|| format!("`{server}` is not a URL"))?;
        if url.scheme() != "http" {
            bail!("`{server}`: tollgate talks to its service over plain http:// only");
        }
        let mut headers = HeaderMap::new();
        if let Some(token) = &token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .context("the token has characters no HTTP header may hold")?;
            // Kept out of reqwest's debug output.
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .default_headers(headers)
            .build()?;
        let base = server.trim_end_matches('/').to_owned();
        Ok(Client { http, base, sends_token: token.is_some() })
    }

    /// The full URL of an API path, such as a log's.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, ServiceError> {
        let mut url = Url::parse(&self.link(path))
            .map_err(|e| ServiceError::Broken(format!("{}{path}: {e}", self.base)))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        Ok(url)
    }

    /// The answer to a GET, as the JSON text the service sent.
    pub async fn get_raw(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<String> {
        let request = self.http.get(self.url(path, query)?).timeout(ANSWER_TIMEOUT);
        let answer = self.send(request).await?;
        Ok(self.text(answer).await?)
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let raw = self.get_raw(path, query).await?;
        Ok(decode(path, &raw)?)
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        let request = self.http.post(self.url(path, &[])?).json(body).timeout(ANSWER_TIMEOUT);
        let answer = self.send(request).await?;
        let raw = self.text(answer).await?;
        Ok(decode(path, &raw)?)
    }

    /// A POST that takes no body, such as a cancellation.
    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let request = self.http.post(self.url(path, &[])?).timeout(ANSWER_TIMEOUT);
        let answer = self.send(request).await?;
        let raw = self.text(answer).await?;
        Ok(decode(path, &raw)?)
    }

    /// A GET whose answer the caller reads as it arrives, with no time limit.
    pub async fn stream(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Response, ServiceError> {
        self.send(self.http.get(self.url(path, query)?)).await
    }

    /// A stream of server-sent events (`/api/events/stream`, `/api/log/stream`).
    pub async fn events(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<EventStream<'_>, ServiceError> {
        let response = self.stream(path, query).await?;
        Ok(EventStream { client: self, response, parser: SseParser::default() })
    }

    /// Sends a request; an error status becomes [`ServiceError::Refused`] with the service's
    /// own words.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Response, ServiceError> {
        let answer = request.send().await.map_err(|e| self.broken(e))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(answer);
        }
        let body = answer.text().await.unwrap_or_default();
        let error = match serde_json::from_str::<ApiError>(&body) {
            Ok(api) if status == StatusCode::UNAUTHORIZED && !self.sends_token => format!(
                "the service needs a token: pass --token-file FILE or set {TOKEN_VARIABLE} ({})",
                api.error
            ),
            Ok(api) => api.error,
            // Not the API's error body: a proxy in between, or something else on the port.
            Err(_) => match body.lines().next().map(str::trim).filter(|l| !l.is_empty()) {
                Some(line) => format!("the service answered {status}: {line}"),
                None => format!("the service answered {status}"),
            },
        };
        Err(ServiceError::Refused { status: status.as_u16(), error })
    }

    async fn text(&self, answer: Response) -> Result<String, ServiceError> {
        answer.text().await.map_err(|e| self.broken(e))
    }

    /// What a transport error means to the user.
    pub fn broken(&self, error: reqwest::Error) -> ServiceError {
        if error.is_connect() {
            return ServiceError::Unreachable { server: self.base.clone() };
        }
        if error.is_timeout() {
            return ServiceError::Broken(format!(
                "the tollgate service at {} did not answer in time",
                self.base
            ));
        }
        ServiceError::Broken(format!("talking to the tollgate service at {}: {error}", self.base))
    }
}

/// An answer as the API type it should be. A mismatch is a service of another version.
fn decode<T: DeserializeOwned>(path: &str, raw: &str) -> Result<T, ServiceError> {
    serde_json::from_str(raw).map_err(|e| {
        ServiceError::Broken(format!(
            "the service's answer to {path} is not what this tollgate understands: {e}"
        ))
    })
}

/// Writes `text` to stdout. A reader that stopped early (`tollgate events | head`) is not an
/// error.
pub fn print(text: &str) -> anyhow::Result<()> {
    print_more(text).map(drop)
}

/// Writes `text` to stdout; `false` when the reader has stopped reading, so that a command
/// that would print more can end (`tollgate events --follow | head`).
pub fn print_more(text: &str) -> anyhow::Result<bool> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        written => written.map(|()| true).context("cannot write to stdout"),
    }
}

/// Prints a JSON answer for `--json`, as the service sent it but indented.
pub fn print_json(raw: &str) -> anyhow::Result<()> {
    serde_json::from_str::<serde::de::IgnoredAny>(raw)
        .map_err(|e| ServiceError::Broken(format!("the service's answer is not JSON: {e}")))?;
    print(&super::json_text::pretty(raw))
}

/// Server-sent events as they arrive.
pub struct EventStream<'c> {
    client: &'c Client,
    response: Response,
    parser: SseParser,
}

impl EventStream<'_> {
    /// The next event; `None` when the service ended the stream.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, ServiceError> {
        loop {
            if let Some(event) = self.parser.next_event() {
                return Ok(Some(event));
            }
            match self.response.chunk().await.map_err(|e| self.client.broken(e))? {
                Some(bytes) => self.parser.push(&bytes),
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_usage_and_service_errors_are_system() {
        let refused = |status| ServiceError::Refused { status, error: String::new() };
        assert_eq!(refused(404).exit_code(), EXIT_USAGE);
        assert_eq!(refused(401).exit_code(), EXIT_USAGE, "no token, or a wrong one");
        assert_eq!(refused(403).exit_code(), EXIT_USAGE, "a token of another role");
        assert_eq!(refused(503).exit_code(), EXIT_SYSTEM);
        let unreachable = ServiceError::Unreachable { server: "http://127.0.0.1:8080".into() };
        assert_eq!(unreachable.exit_code(), EXIT_SYSTEM);
        assert_eq!(
            unreachable.to_string(),
            "no tollgate service at http://127.0.0.1:8080 (start one with `tollgate serve`)"
        );
    }

    #[test]
    fn routes_and_queries_make_urls_under_the_server() {
        let client = Client::new("http://127.0.0.1:8080/", None).unwrap();
        let url = client.url("/api/log", &[("item", "demo/greeter:debian-12:Build".into())]);
        assert_eq!(
            url.unwrap().as_str(),
            "http://127.0.0.1:8080/api/log?item=demo%2Fgreeter%3Adebian-12%3ABuild"
        );
        assert_eq!(client.link("/api/log?item=x"), "http://127.0.0.1:8080/api/log?item=x");
        assert!(Client::new("https://example.org", None).is_err());
        assert!(Client::new("not a url", None).is_err());
    }
}
