//! The API's paths, in one place for the service's router and the CLI's client.
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | GET | `/api/status` | → [`Status`](crate::Status) |
//! | GET, POST | `/api/projects` | [`ProjectSpec`](crate::ProjectSpec) → [`ProjectView`](crate::ProjectView) |
//! | POST | `/api/stage` | [`StageRequest`](crate::StageRequest) → [`StageResponse`](crate::StageResponse) |
//! | POST | `/api/projects/remove` | [`RemoveProject`](crate::RemoveProject) → [`ProjectRemoved`](crate::ProjectRemoved); 409 while one of its branches runs an integration |
//! | POST | `/api/unstage` | [`UnstageRequest`](crate::UnstageRequest) → [`ChangeView`](crate::ChangeView) |
//! | GET | `/api/changes/{id}` | → [`ChangeView`](crate::ChangeView) |
//! | GET | `/api/branch?project=&branch=&before=ID&limit=` | → [`BranchDetail`](crate::BranchDetail): the branch's queue, running integration and a page of its history |
//! | GET | `/api/work-item?integration=ID&item=WORK_ITEM` | → [`WorkItemDetail`](crate::WorkItemDetail): the work item, the integration it was reused from, its archives |
//! | GET | `/api/reproduce?integration=ID&item=WORK_ITEM` | → [`Reproduction`](crate::Reproduction): the pins and salt the integration was planned with, the work item's build key and how it ended; 409 when its commit is not kept (only rejected integrations' are, the newest `keep_rejected` of a project) |
//! | GET | `/api/tests?project=P&days=N` | → [`TestHistory`](crate::TestHistory)s: the project's tests that failed in the last N days (30), per platform configuration, most failures first, with their flakes and failure rate |
//! | GET, POST | `/api/quarantine?project=P&all=true` | [`NewQuarantine`](crate::NewQuarantine) → [`QuarantineView`](crate::QuarantineView) (admin); GET → the entries in force, newest first (ended and removed ones too with `all`) |
//! | POST | `/api/quarantine/{id}/remove` | → [`QuarantineView`](crate::QuarantineView) (admin): the entry ends now |
//! | GET | `/api/records/{build_key}` | → the store's record of a build key (JSON), 404 when it has none |
//! | GET, HEAD | `/api/blobs/{digest}` | a blob of the store: what `tollgate reproduce` fetches the dependencies' archives with |
//! | GET, POST | `/api/git/{project}/…` | the project's mirror over git's smart HTTP, read-only, with its kept integration commits: a read, not a write |
//! | GET | `/api/integrations?project=&branch=&before=ID&limit=` | → [`Page`](crate::Page) of [`IntegrationView`](crate::IntegrationView)s without work items, newest first; `branch` needs `project` |
//! | GET | `/api/integrations/{id}` | → [`IntegrationView`](crate::IntegrationView) |
//! | POST | `/api/integrations/{id}/cancel` | → [`IntegrationView`](crate::IntegrationView) |
//! | GET | `/api/log?item=WORK_ITEM&integration=ID&follow=true` | → the log, `text/plain`; the newest integration with that work item when `integration` is left out; streamed while it grows with `follow` |
//! | GET | `/`, `/branch?…`, `/integrations/{id}`, `/work-item?…`, `/changes/{id}`, `/agents`, `/events?…`, `/tests?project=P` | the web pages, HTML; each one's JSON twin is its path under `/api` (`/` is `/api/status`) |
//! | GET | `/metrics` | Prometheus' text format (OpenMetrics when the `Accept` header asks for it): queues, integrations by outcome, stage-to-merge time, work item durations, reuse, agents, slots, the store, system errors, stalled branches |
//! | GET | `/healthz` | → 200 `{"status":"ok"}` while the process answers; no token needed |
//! | GET | `/readyz` | → 200 `{"status":"ok","branches":N,"warnings":[...]}` (a stalled branch is a warning), 503 `{"status":"unavailable","error":...}` while the state does not answer; no token needed |
//! | GET | `/api/log/stream?item=WORK_ITEM&integration=ID` | → server-sent events: the log's lines as they are written, in pieces of whole lines whose SSE `id` is the byte offset after them (`Last-Event-ID` resumes there, `from=N` starts at byte N); waits while the work item has not started; an `end` event once it has ended and all is sent |
//! | GET | `/api/events/stream?after=SEQ&integration=ID` | → server-sent events: each [`EventView`](crate::EventView) as it is committed, named by its `kind`, with `seq` as its SSE `id` (unnamed with `plain=true`); from now on without `after` (or `Last-Event-ID`) |
//! | GET | `/api/events?before=SEQ&integration=ID&limit=` | → [`Page`](crate::Page) of [`EventView`](crate::EventView)s, the decision log, newest first; with `after=SEQ` instead of `before`, what came after SEQ, oldest first (to follow it) |
//! | GET, POST | `/api/tokens` | [`NewToken`](crate::NewToken) → [`TokenCreated`](crate::TokenCreated), the secret shown once; GET → [`TokenView`](crate::TokenView)s |
//! | POST | `/api/tokens/{name}/revoke` | → [`TokenView`](crate::TokenView) |
//! | GET | `/api/agents` | → [`AgentView`](crate::AgentView)s |
//! | POST | `/api/agents/{name}/drain` | → 204; the agent finishes what it runs and exits |
//!
//! The agents' protocol (role `agent`, see [`crate::agent`]):
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | POST | `/api/agent/register` | [`AgentHello`](crate::AgentHello) → [`AgentWelcome`](crate::AgentWelcome) |
//! | POST | `/api/agent/poll` | [`AgentPoll`](crate::AgentPoll) → [`AgentPolled`](crate::AgentPolled), held up to `wait_ms` (at most 30 s) while there is no work |
//! | POST | `/api/agent/report` | [`AgentReport`](crate::AgentReport) → 204; 409 when the lease is not the agent's any more, 503 when a restarted controller is not ready for it yet |
//! | POST | `/api/agent/log/{lease}?agent=NAME&offset=N[&end=true]` | a piece of the log at byte `offset` → the log's length; `end`: the last piece, the run is over and its slot free while the report follows |
//! | GET, HEAD, PUT | `/api/agent/blobs/{digest}` | a blob of the store; PUT is stored only when its content has that digest |
//! | GET, POST | `/api/agent/git/{project}/…` | the project's mirror over git's smart HTTP, read-only |
//!
//! A list's `limit` is 50 when left out, and at most [`MAX_PAGE`](crate::MAX_PAGE).
//!
//! Once the service has a token, a request sends one as `Authorization: Bearer SECRET`, with
//! a [`Role`](crate::Role) that allows the route: `stage` for staging, unstaging and
//! cancelling; `admin` for projects, tokens (listing them too), agents and the quarantine; `agent` for the
//! agents' protocol under `/api/agent/`; reads need `read` only where the service's
//! configuration says so. No token where one is needed, or an unknown or revoked one on any
//! route, is 401; a role that does not allow the route is 403.

pub const STATUS: &str = "/api/status";
pub const BRANCH: &str = "/api/branch";
pub const WORK_ITEM: &str = "/api/work-item";
pub const PROJECTS: &str = "/api/projects";
pub const REMOVE_PROJECT: &str = "/api/projects/remove";
pub const STAGE: &str = "/api/stage";
pub const UNSTAGE: &str = "/api/unstage";
pub const EVENTS: &str = "/api/events";
pub const EVENTS_STREAM: &str = "/api/events/stream";
pub const INTEGRATIONS: &str = "/api/integrations";
pub const LOG: &str = "/api/log";
pub const LOG_STREAM: &str = "/api/log/stream";
pub const REPRODUCE: &str = "/api/reproduce";
pub const TESTS: &str = "/api/tests";
pub const QUARANTINE: &str = "/api/quarantine";
pub const CONFIG: &str = "/api/config";

/// `GET /api/tests` of one project.
pub fn tests(project: &str) -> String {
    format!("{TESTS}?project={}", encode(project))
}

pub fn remove_quarantine(id: i64) -> String {
    format!("{QUARANTINE}/{id}/remove")
}

pub fn reproduce(integration: i64, item: &str) -> String {
    format!("{REPRODUCE}?integration={integration}&item={}", encode(item))
}

pub fn record(build_key: &str) -> String {
    format!("/api/records/{build_key}")
}

pub fn blob(digest: &str) -> String {
    format!("/api/blobs/{digest}")
}

pub fn git(project: &str) -> String {
    format!("/api/git/{project}")
}
pub const TOKENS: &str = "/api/tokens";
pub const AGENTS: &str = "/api/agents";
pub const AGENT_REGISTER: &str = "/api/agent/register";
pub const AGENT_POLL: &str = "/api/agent/poll";
pub const AGENT_REPORT: &str = "/api/agent/report";

pub fn drain_agent(name: &str) -> String {
    format!("/api/agents/{name}/drain")
}

pub fn agent_log(lease: i64, agent: &str, offset: u64, end: bool) -> String {
    format!("/api/agent/log/{lease}?agent={agent}&offset={offset}&end={end}")
}

pub fn agent_blob(digest: &str) -> String {
    format!("/api/agent/blobs/{digest}")
}

pub fn agent_git(project: &str) -> String {
    format!("/api/agent/git/{project}")
}

pub fn change(id: i64) -> String {
    format!("/api/changes/{id}")
}

pub fn integration(id: i64) -> String {
    format!("/api/integrations/{id}")
}

pub fn cancel(id: i64) -> String {
    format!("/api/integrations/{id}/cancel")
}

pub fn revoke_token(name: &str) -> String {
    format!("/api/tokens/{name}/revoke")
}

/// `GET /api/log` of a work item.
pub fn log(integration: i64, item: &str) -> String {
    format!("{LOG}?integration={integration}&item={}", encode(item))
}

/// `GET /api/branch` of one branch.
pub fn branch(project: &str, branch: &str) -> String {
    format!("{BRANCH}?project={}&branch={}", encode(project), encode(branch))
}

/// `GET /api/work-item` of one work item.
pub fn work_item(integration: i64, item: &str) -> String {
    format!("{WORK_ITEM}?integration={integration}&item={}", encode(item))
}

/// A value for a query string: what is not plain is percent-encoded. `/` and `:` stay as
/// they are, so that a work item (`demo/app:linux:Build`) reads well in a link.
pub fn encode(value: &str) -> String {
    let mut encoded = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b'/' => {
                encoded.push(byte as char)
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

/// The web page whose JSON twin is an API path: the same path without `/api`, and `/` for
/// the status.
pub fn page_of(api: &str) -> String {
    match api {
        STATUS => "/".to_owned(),
        _ => api.strip_prefix("/api").unwrap_or(api).to_owned(),
    }
}
