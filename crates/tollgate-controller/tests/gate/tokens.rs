//! API tokens over real HTTP: who may stage, read and manage tokens, with an admin token from
//! the configuration's `admin_token_file`, and the API as before when there is no token.

use std::os::unix::fs::PermissionsExt;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate_api::ChangeState;

use crate::support::{Gate, Setup};

/// What the service answered: the status, the JSON body, and the `WWW-Authenticate` header.
struct Answer {
    status: StatusCode,
    body: Value,
    challenge: Option<String>,
}

async fn send(
    gate: &Gate,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = reqwest::Client::new().request(method, gate.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    let challenge = answer.headers().get("www-authenticate").map(|v| v.to_str().unwrap().into());
    let body = answer.json().await.unwrap_or(Value::Null);
    Answer { status, body, challenge }
}

/// A token made through the API with `admin`'s secret; its secret.
async fn add_token(gate: &Gate, admin: Option<&str>, name: &str, role: &str) -> String {
    let body = json!({"name": name, "role": role});
    let added = send(gate, Method::POST, "/api/tokens", admin, Some(body)).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!((&added.body["name"], &added.body["role"]), (&json!(name), &json!(role)));
    added.body["secret"].as_str().unwrap().to_owned()
}

fn stage_body(commit: &str) -> Option<Value> {
    Some(json!({"project": "demo/app", "branch": "main", "changes": [commit]}))
}

async fn staged(gate: &Gate) -> usize {
    let db = gate.controller().db();
    db.changes("demo/app", "main", ChangeState::Staged).await.unwrap().len()
}

fn admin_secret(gate: &Gate) -> String {
    std::fs::read_to_string(gate.tmp.path().join("admin.token")).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_a_stage_needs_a_token_whose_role_allows_it_and_a_revoked_one_stops_at_once() {
    let gate = Gate::start(Setup { admin_token: true, ..Setup::default() }).await;
    let file = gate.tmp.path().join("admin.token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the admin token file is the service user's own");
    let admin = admin_secret(&gate);
    assert!(admin.starts_with("tg_"), "{admin}");
    let reader = add_token(&gate, Some(&admin), "reader", "read").await;
    let ci = add_token(&gate, Some(&admin), "ci", "stage").await;
    let change = gate.commit("demo/app", "origin/main", &[("notes.txt", "a\n")], "Notes");

    let without = send(&gate, Method::POST, "/api/stage", None, stage_body(&change)).await;
    assert_eq!(without.status, StatusCode::UNAUTHORIZED);
    assert_eq!(without.challenge.as_deref(), Some("Bearer realm=\"tollgate\""));
    let error = without.body["error"].as_str().unwrap();
    assert_eq!(error, "POST /api/stage needs a token (role stage or admin)");
    let read_only = send(&gate, Method::POST, "/api/stage", Some(&reader), stage_body(&change));
    let read_only = read_only.await;
    assert_eq!(read_only.status, StatusCode::FORBIDDEN, "{}", read_only.body);
    let error = read_only.body["error"].as_str().unwrap();
    assert!(error.contains("`reader` has role read"), "{error}");
    let wrong = send(&gate, Method::POST, "/api/stage", Some("tg_0000"), stage_body(&change)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.challenge.unwrap().contains("invalid_token"));
    assert_eq!(staged(&gate).await, 0, "nothing was staged");

    let accepted = send(&gate, Method::POST, "/api/stage", Some(&ci), stage_body(&change)).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["changes"][0]["commit"], change.as_str());
    // Staging stays a stage token's: it manages neither projects nor tokens.
    let project = json!({"name": "demo/other", "url": "file:///nowhere"});
    let add_project = send(&gate, Method::POST, "/api/projects", Some(&ci), Some(project)).await;
    assert_eq!(add_project.status, StatusCode::FORBIDDEN, "{}", add_project.body);
    let listed = send(&gate, Method::GET, "/api/tokens", Some(&ci), None).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN);

    let revoked = send(&gate, Method::POST, "/api/tokens/ci/revoke", Some(&admin), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].is_i64(), "{}", revoked.body);
    let after = send(&gate, Method::POST, "/api/unstage", Some(&ci), None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.body["error"], "the token `ci` was revoked");
    // Even where no token is needed, a wrong one is said to be wrong.
    let read = send(&gate, Method::GET, "/api/status", Some(&ci), None).await;
    assert_eq!(read.status, StatusCode::UNAUTHORIZED);

    // Reads are open by default; who holds which token is not.
    let status = send(&gate, Method::GET, "/api/status", None, None).await;
    assert_eq!(status.status, StatusCode::OK);
    let listed = send(&gate, Method::GET, "/api/tokens", None, None).await;
    assert_eq!(listed.status, StatusCode::UNAUTHORIZED);
    let listed = send(&gate, Method::GET, "/api/tokens", Some(&admin), None).await;
    let names: Vec<_> = listed.body.as_array().unwrap().iter().map(|t| &t["name"]).collect();
    assert_eq!(names, ["admin", "ci", "reader"]);
    assert!(listed.body.as_array().unwrap().iter().all(|t| t.get("secret").is_none()));
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_need_a_token_when_the_configuration_says_so() {
    let gate =
        Gate::start(Setup { admin_token: true, read_needs_token: true, ..Setup::default() }).await;
    let admin = admin_secret(&gate);
    let reader = add_token(&gate, Some(&admin), "reader", "read").await;
    for path in ["/api/status", "/api/events", "/"] {
        let without = send(&gate, Method::GET, path, None, None).await;
        assert_eq!(without.status, StatusCode::UNAUTHORIZED, "{path}");
        let with = send(&gate, Method::GET, path, Some(&reader), None).await;
        assert_eq!(with.status, StatusCode::OK, "{path}");
    }
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_everything_works_as_before_until_a_first_admin_token() {
    let gate = Gate::start(Setup::default()).await;
    let change = gate.commit("demo/app", "origin/main", &[("notes.txt", "b\n")], "Notes");
    let status = send(&gate, Method::GET, "/api/status", None, None).await;
    assert_eq!(status.status, StatusCode::OK);
    let accepted = send(&gate, Method::POST, "/api/stage", None, stage_body(&change)).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let unknown = send(&gate, Method::GET, "/api/status", Some("tg_nothing"), None).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);

    // The first token is an admin's, or nobody could manage tokens once it exists.
    let body = json!({"name": "ci", "role": "stage"});
    let first = send(&gate, Method::POST, "/api/tokens", None, Some(body)).await;
    assert_eq!(first.status, StatusCode::CONFLICT, "{}", first.body);
    let admin = add_token(&gate, None, "root", "admin").await;
    let closed = send(&gate, Method::POST, "/api/unstage", None, None).await;
    assert_eq!(closed.status, StatusCode::UNAUTHORIZED, "tokens are needed from now on");
    // And the last admin token stays, or the API would be open again.
    let last = send(&gate, Method::POST, "/api/tokens/root/revoke", Some(&admin), None).await;
    assert_eq!(last.status, StatusCode::CONFLICT, "{}", last.body);
    let unknown = send(&gate, Method::POST, "/api/tokens/nobody/revoke", Some(&admin), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_token_file_is_made_once_and_a_file_with_another_or_a_short_secret_stops_the_start()
 {
    let mut gate = Gate::start(Setup { admin_token: true, ..Setup::default() }).await;
    let admin = admin_secret(&gate);
    let ci = add_token(&gate, Some(&admin), "ci", "stage").await;
    gate.restart().await;
    assert_eq!(admin_secret(&gate), admin, "the file is read, not made again");
    let listed = send(&gate, Method::GET, "/api/tokens", Some(&admin), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let unstage = json!({"project": "demo/app", "branch": "main", "change": "1"});
    let known = send(&gate, Method::POST, "/api/unstage", Some(&ci), Some(unstage)).await;
    assert_eq!(known.status, StatusCode::NOT_FOUND, "the token still works: {}", known.body);

    gate.service.take().unwrap().stop().await;
    let other = gate.tmp.path().join("other.token");
    std::fs::write(&other, format!("tg_{}\n", "0".repeat(64))).unwrap();
    let mut config = gate.config.clone();
    config.admin_token_file = Some(other.clone());
    let Err(error) = gate.start_again(config).await else { panic!("started with another secret") };
    let error = error.to_string();
    assert!(error.contains(&other.display().to_string()), "{error}");
    assert!(error.contains("another secret"), "{error}");
    std::fs::write(&other, "hunter2\n").unwrap();
    let mut config = gate.config.clone();
    config.admin_token_file = Some(other);
    let Err(error) = gate.start_again(config).await else { panic!("started with a short secret") };
    assert!(error.to_string().contains("too few for a secret"), "{error}");
    gate.stop().await;
}
