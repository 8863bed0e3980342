//! What a new user hit, mended: JSON errors everywhere, what became of a change that cannot
//! be unstaged, a reused work item's log that says so, staging refs cleaned off the remote,
//! branches that do not exist (any more), and projects removed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate_api::{ChangeState, ProjectSpec, RemoveProject, StageRequest, WorkItemState};
use tollgate_state::Cursor;

use crate::support::{Gate, Setup, git, git_out, within};

async fn send(gate: &Gate, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, gate.url(path));
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_owned());
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, body)
}

fn message(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_else(|| panic!("no message: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_the_api_answers_is_json_with_a_message() {
    let gate = Gate::start(Setup::default()).await;
    let (status, body) = send(&gate, Method::GET, "/api/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(message(&body), "no route GET /api/nothing-here");
    let (status, body) = send(&gate, Method::POST, "/api/stage", Some("{\"project\": ")).await;
    assert!(status.is_client_error(), "{status}");
    assert!(message(&body).contains("EOF"), "{body}");
    let (status, body) = send(&gate, Method::POST, "/api/stage", Some("{\"project\": 1}")).await;
    assert!(status.is_client_error(), "{status}");
    assert!(message(&body).contains("project"), "{body}");
    let (status, body) = send(&gate, Method::GET, "/api/integrations?before=soon", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("before"), "{body}");
    let (status, body) = send(&gate, Method::DELETE, "/api/status", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(message(&body), "method not allowed");
    // The service's own errors were JSON already, and stay so.
    let (status, body) = send(&gate, Method::GET, "/api/changes/999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("999"), "{body}");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstaging_a_decided_change_says_what_became_of_it() {
    let gate = Gate::start(Setup::default()).await;
    let commit = gate.commit("demo/app", "origin/main", &[("u.txt", "u\n")], "Merged soon");
    let ended = gate.ended(&gate.stage(&[&commit]).await).await;
    assert_eq!(ended[0].state, ChangeState::Merged);
    let integration = ended[0].integration.unwrap();
    for name in [ended[0].id.to_string(), commit[..8].to_owned()] {
        let body = json!({"project": "demo/app", "branch": "main", "change": name}).to_string();
        let (status, body) = send(&gate, Method::POST, "/api/unstage", Some(&body)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(
            message(&body),
            format!(
                "change {} ({}) was merged by integration {integration}: nothing to unstage",
                ended[0].id,
                &commit[..12]
            )
        );
    }
    let body = json!({"project": "demo/app", "branch": "main", "change": "777"}).to_string();
    let (status, body) = send(&gate, Method::POST, "/api/unstage", Some(&body)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(message(&body), "no change `777` for demo/app main");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_work_items_log_says_it_was_reused_and_of_which_run() {
    let gate = Gate::start(Setup::default()).await;
    let first = gate.commit("demo/app", "origin/main", &[("one.txt", "1\n")], "First");
    let first = gate.ended(&gate.stage(&[&first]).await).await;
    let second = gate.commit("demo/app", "origin/main", &[("two.txt", "2\n")], "Second");
    let second = gate.ended(&gate.stage(&[&second]).await).await;
    let integration = gate.integration(second[0].integration.unwrap()).await;
    let lib = integration.work_items.iter().find(|w| w.id == "demo/lib:linux:Build").unwrap();
    assert_eq!(lib.state, WorkItemState::Reused);
    let path = format!("/api/log?item=demo/lib:linux:Build&integration={}", integration.id);
    let log = reqwest::get(gate.url(&path)).await.unwrap().text().await.unwrap();
    let heading = log.lines().next().unwrap();
    assert!(heading.starts_with("tollgate: nothing ran: this work item reused"), "{log}");
    assert!(heading.contains("of demo/lib:linux:Build, run at 20"), "{heading}");
    assert!(log.contains("building lib"), "the earlier run's log follows: {log}");
    // Followed, it says the same first.
    let path = format!("/api/log/stream?item=demo/lib:linux:Build&integration={}", integration.id);
    let streamed = reqwest::get(gate.url(&path)).await.unwrap().text().await.unwrap();
    let said = streamed.lines().find(|line| line.starts_with("data:")).unwrap();
    assert_eq!(said.strip_prefix("data: "), Some(heading), "{streamed}");
    // The run that made the result has its own log, without the heading.
    let path =
        format!("/api/log?item=demo/lib:linux:Build&integration={}", first[0].integration.unwrap());
    let log = reqwest::get(gate.url(&path)).await.unwrap().text().await.unwrap();
    assert!(!log.contains("reused"), "{log}");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decided_changes_staging_ref_is_removed_from_the_remote_unless_it_moved() {
    let poll = Some(std::time::Duration::from_millis(100));
    let gate = Gate::start(Setup { poll, ..Setup::default() }).await;
    let remote = gate.remote("demo/app");
    let staging_refs = || {
        let listed = git_out(&remote, &["for-each-ref", "--format=%(refname)", "refs/staging/"]);
        listed.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let work = gate.work("demo/app");
    let db = gate.controller().db();
    // One merged, one rejected: both refs go.
    for (name, file, state) in
        [("good", "g.txt", ChangeState::Merged), ("bad", "break-build", ChangeState::Rejected)]
    {
        let commit = gate.commit("demo/app", "origin/main", &[(file, "")], name);
        git(&work, &["push", "-q", "origin", &format!("{commit}:refs/staging/main/{name}")]);
        within(|| async {
            let decided = db.changes("demo/app", "main", state).await.unwrap();
            decided.iter().any(|c| c.commit == commit).then_some(())
        })
        .await;
    }
    within(|| async { staging_refs().is_empty().then_some(()) }).await;
    // A developer who pushes another commit to the ref while the change runs keeps it. The
    // newer commit is staged, then unstaged, so that nothing but the first change's end
    // could remove the ref.
    let held = gate.commit("demo/app", "origin/main", &[("hold", ""), ("h.txt", "h\n")], "Held");
    git(&work, &["push", "-q", "origin", &format!("{held}:refs/staging/main/again")]);
    let running = within(|| async {
        let changes = db.changes("demo/app", "main", ChangeState::Integrating).await.unwrap();
        changes.into_iter().next()
    })
    .await;
    gate.running(running.integration.unwrap(), "demo/app:linux:Build").await;
    let newer = gate.commit("demo/app", "origin/main", &[("n.txt", "n\n")], "Newer");
    git(&work, &["push", "-q", "-f", "origin", &format!("{newer}:refs/staging/main/again")]);
    let staged = within(|| async {
        let staged = db.changes("demo/app", "main", ChangeState::Staged).await.unwrap();
        staged.into_iter().find(|c| c.commit == newer)
    })
    .await;
    gate.controller().unstage("demo/app", "main", &staged.id.to_string()).await.unwrap();
    gate.go();
    // A later change's ref goes once its integration ended, which is after the first one's.
    let later = gate.commit("demo/app", "origin/main", &[("l.txt", "l\n")], "Later");
    git(&work, &["push", "-q", "origin", &format!("{later}:refs/staging/main/later")]);
    within(|| async {
        let merged = db.changes("demo/app", "main", ChangeState::Merged).await.unwrap();
        let gone = !staging_refs().contains(&"refs/staging/main/later".to_owned());
        (merged.iter().any(|c| c.commit == later) && gone).then_some(())
    })
    .await;
    let merged = db.changes("demo/app", "main", ChangeState::Merged).await.unwrap();
    assert!(merged.iter().any(|c| c.commit == held), "{merged:?}");
    assert_eq!(staging_refs(), ["refs/staging/main/again"], "the moved ref stays");
    let at = git_out(&remote, &["rev-parse", "refs/staging/main/again"]);
    assert_eq!(at.trim(), newer);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_the_remote_lacks_is_refused_at_add_and_stage_and_shown_when_it_goes_later() {
    let gate = Gate::start(Setup::default()).await;
    let controller = gate.controller();
    let url = format!("file://{}", gate.remote("demo/app").display());
    let spec = |branches: &[&str]| ProjectSpec {
        name: "demo/app".into(),
        url: url.clone(),
        branches: branches.iter().map(|b| b.to_string()).collect(),
        product: None,
    };
    let refused = controller.add_project(spec(&["main", "nope"])).await.unwrap_err();
    assert!(refused.to_string().contains("demo/app has no branch `nope` at file://"), "{refused}");
    assert!(refused.to_string().ends_with("its branches: main"), "{refused}");
    let project = controller.db().project("demo/app").await.unwrap().unwrap();
    assert_eq!(project.spec.branches, ["main"], "nothing changed");

    // A branch that goes away on the remote while a change of it runs.
    let remote = gate.remote("demo/app");
    git(&remote, &["branch", "dev", "main"]);
    controller.add_project(spec(&["main", "dev"])).await.unwrap();
    let held = gate.commit("demo/app", "origin/main", &[("hold", ""), ("d.txt", "d\n")], "Held");
    let stage = |commit: &str| StageRequest {
        project: "demo/app".into(),
        branch: "dev".into(),
        changes: vec![commit.to_owned()],
    };
    let waiting = controller.stage(&stage(&held)).await.unwrap();
    let integration = within(|| async {
        let change = controller.db().change(waiting[0].id).await.unwrap().unwrap();
        change.integration
    })
    .await;
    gate.running(integration, "demo/app:linux:Build").await;
    git(&remote, &["update-ref", "-d", "refs/heads/dev"]);
    gate.go();
    // Its push finds no branch: the change waits, and the log and the status say why.
    let db = controller.db();
    let missing = within(|| async {
        let events = db.events(None, Cursor::After(0), 1000).await.unwrap().items;
        events.into_iter().find(|e| e.kind == "branch_missing")
    })
    .await;
    assert_eq!(missing.branch, "dev");
    assert!(missing.detail["message"].as_str().unwrap().contains("has no branch `dev`"));
    assert_eq!(db.change(waiting[0].id).await.unwrap().unwrap().state, ChangeState::Staged);
    let status = controller.status().await.unwrap();
    let dev = status.branches.iter().find(|b| b.branch == "dev").unwrap();
    assert!(dev.missing && dev.tip.is_none(), "{dev:?}");
    assert_eq!(dev.queue.len(), 1);
    let main = status.branches.iter().find(|b| b.branch == "main").unwrap();
    assert!(!main.missing);
    // Staging there is refused while it is gone.
    let other = gate.commit("demo/app", "origin/main", &[("e.txt", "e\n")], "Other");
    let refused = controller.stage(&stage(&other)).await.unwrap_err();
    assert!(refused.to_string().contains("has no branch `dev`"), "{refused}");
    // Back: what waited merges, and the log says the branch is back.
    git(&remote, &["branch", "dev", "main"]);
    let ended = gate.ended(&controller.stage(&stage(&other)).await.unwrap()).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    let ended = gate.ended(&waiting).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    let events = db.events(None, Cursor::After(0), 1000).await.unwrap().items;
    assert!(events.iter().any(|e| e.kind == "branch_back" && e.branch == "dev"));
    // A project of the configuration file is removed there, not through the API.
    let configured = RemoveProject { project: "demo/app".into(), branches: vec![] };
    let refused = controller.remove_project(&configured).await.unwrap_err();
    assert!(refused.to_string().contains("in the configuration file"), "{refused}");
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_project_stops_gating_it_and_is_refused_while_it_integrates() {
    let gate = Gate::start(Setup { added: true, ..Setup::default() }).await;
    let controller = gate.controller();
    let remote = gate.remote("demo/app");
    git(&remote, &["branch", "dev", "main"]);
    let spec = ProjectSpec {
        name: "demo/app".into(),
        url: format!("file://{}", remote.display()),
        branches: vec!["main".into(), "dev".into()],
        product: None,
    };
    controller.add_project(spec).await.unwrap();
    // An integration runs on main, held.
    let held = gate.commit("demo/app", "origin/main", &[("hold", ""), ("x.txt", "x\n")], "Held");
    let stage = |branch: &str, commit: &str| StageRequest {
        project: "demo/app".into(),
        branch: branch.into(),
        changes: vec![commit.to_owned()],
    };
    let running = controller.stage(&stage("main", &held)).await.unwrap();
    let integration = within(|| async {
        let change = controller.db().change(running[0].id).await.unwrap().unwrap();
        change.integration
    })
    .await;
    let remove = |branches: &[&str]| RemoveProject {
        project: "demo/app".into(),
        branches: branches.iter().map(|b| b.to_string()).collect(),
    };
    let refused = controller.remove_project(&remove(&[])).await.unwrap_err();
    assert!(
        refused.to_string().contains(&format!("`tollgate cancel {integration}` first")),
        "{refused}"
    );
    let refused = controller.remove_project(&remove(&["nope"])).await.unwrap_err();
    assert!(refused.to_string().contains("does not gate branch `nope`"), "{refused}");
    assert_eq!(controller.db().project("demo/app").await.unwrap().unwrap().spec.branches.len(), 2);

    // dev alone, while main runs: dev is not gated any more, main goes on.
    let removed = controller.remove_project(&remove(&["dev"])).await.unwrap();
    assert_eq!(removed.branches, ["dev"]);
    assert!(!removed.forgotten);
    let project = controller.db().project("demo/app").await.unwrap().unwrap();
    assert_eq!(project.spec.branches, ["main"]);
    let other = gate.commit("demo/app", "origin/main", &[("y.txt", "y\n")], "For dev");
    let refused = controller.stage(&stage("dev", &other)).await.unwrap_err();
    assert!(refused.to_string().contains("does not gate branch `dev`"), "{refused}");
    gate.go();
    let ended = gate.ended(&running).await;
    assert_eq!(ended[0].state, ChangeState::Merged);

    // The whole project, once nothing runs.
    let removed = controller.remove_project(&remove(&[])).await.unwrap();
    assert!(removed.forgotten);
    assert_eq!(removed.branches, ["main"]);
    assert!(controller.db().project("demo/app").await.unwrap().is_none());
    let status = controller.status().await.unwrap();
    assert!(status.branches.iter().all(|b| b.project != "demo/app"), "{:?}", status.branches);
    let refused = controller.stage(&stage("main", &other)).await.unwrap_err();
    assert!(refused.to_string().contains("no project `demo/app`"), "{refused}");
    // Added again, it gates again, and its history is there.
    let spec = ProjectSpec {
        name: "demo/app".into(),
        url: format!("file://{}", remote.display()),
        branches: vec!["main".into()],
        product: None,
    };
    controller.add_project(spec).await.unwrap();
    let ended = gate.ended(&controller.stage(&stage("main", &other)).await.unwrap()).await;
    assert_eq!(ended[0].state, ChangeState::Merged, "{:?}", ended[0].rejection);
    let moves = gate.moves("demo/app");
    assert_eq!(moves, 2, "one merge before the removal, one after");
    gate.stop().await;
}
