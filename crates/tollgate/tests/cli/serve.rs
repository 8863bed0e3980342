//! `tollgate serve` as an operator runs it, driven by the CLI as a maintainer does: staging,
//! status, logs, and a `kill -9` in the middle of a work item.

use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::site::{DEADLINE, Site};
use crate::support::{isolated, path_str, run};

fn build_state(status: &Value) -> Option<String> {
    let current = &status["branches"][0]["current"];
    let items = current["work_items"].as_array()?;
    let build = items.iter().find(|w| w["id"] == "demo/app:linux:Build")?;
    build["state"].as_str().map(str::to_owned)
}

#[test]
fn after_kill_9_during_a_work_item_the_restarted_service_completes_the_integration_and_pushes_once()
{
    let site = Site::new();
    let mut serve = site.serve();
    let change = site.change("held", &["hold"]);
    let staged = site.cli(&["stage", "demo/app", "main", &change]);
    assert_eq!(staged.code, 0, "{}", staged.stderr);
    site.until(|| build_state(&site.status()).as_deref() == Some("running") && site.builds() == 1);

    serve.kill().unwrap(); // SIGKILL
    serve.wait().unwrap();
    site.go();
    let mut serve = site.serve();

    // A second service on the same data directory is refused while this one runs.
    let second = site.cli(&[
        "serve",
        "--config",
        path_str(&site.config),
        "--data-dir",
        path_str(&site.path("data")),
    ]);
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(second.stderr.contains("another tollgate serve is running"), "{}", second.stderr);

    // Staging again is idempotent, whether the resumed integration still runs or has merged
    // already; --wait ends when the change does.
    let waited = site.cli(&["stage", "demo/app", "main", &change, "--wait"]);
    assert_eq!(waited.code, 0, "{}\n{}", waited.stdout, waited.stderr);
    let status = site.status();
    let recent = &status["branches"][0]["recent"][0];
    assert_eq!(recent["state"], "merged");
    assert_eq!(recent["commit"], change.as_str());
    assert_eq!(site.tip(), change);
    assert_eq!(site.moves(), 1, "the branch moved once");
    assert_eq!(site.events("pushed").len(), 1);
    assert_eq!(site.events("recovered").len(), 1);
    assert_eq!(site.builds(), 2, "the interrupted build ran again");
    let log = site.cli(&["log", "demo/app:linux:Build"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    assert!(log.stdout.contains("building app"), "{}", log.stdout);
    // Followed through its event stream, an ended work item's log is all of it, and it ends.
    let followed = site.cli(&["log", "demo/app:linux:Build", "--follow"]);
    assert_eq!(followed.code, 0, "{}", followed.stderr);
    assert_eq!(followed.stdout, log.stdout);
    // Once the file is gone (logs cleaned up), the copy in the store is served, and its
    // scratch copy is not left behind.
    std::fs::remove_dir_all(site.path("data/logs")).unwrap();
    let stored = site.cli(&["log", "demo/app:linux:Build"]);
    assert_eq!(stored.code, 0, "{}", stored.stderr);
    assert!(stored.stdout.contains("building app"), "{}", stored.stdout);
    let followed = site.cli(&["log", "demo/app:linux:Build", "--follow"]);
    assert_eq!(followed.code, 0, "{}", followed.stderr);
    assert_eq!(followed.stdout, stored.stdout);
    let scratch = std::fs::read_dir(site.path("data/tmp")).map_or(0, Iterator::count);
    assert_eq!(scratch, 0, "nothing left in data/tmp");
    serve.kill().unwrap();
    serve.wait().unwrap();
}

#[test]
fn a_service_started_with_relative_folders_gates_a_change() {
    let site = Site::new();
    let mut serve = site.serve_with(&["--config", "tollgate.toml", "--data-dir", "data"]);
    let change = site.change("relative", &["relative"]);
    let waited = site.cli(&["stage", "demo/app", "main", &change, "--wait"]);
    assert_eq!(waited.code, 0, "{}\n{}", waited.stdout, waited.stderr);
    assert_eq!(site.tip(), change);
    assert!(site.path("data/state.sqlite").is_file(), "the state is under ./data");
    serve.kill().unwrap();
    serve.wait().unwrap();
}

#[test]
fn a_commit_that_does_not_exist_is_refused_at_stage_time() {
    let site = Site::new();
    let mut serve = site.serve();
    let staged = site.cli(&["stage", "demo/app", "main", "no-such-branch"]);
    assert_eq!(staged.code, 2, "{}", staged.stderr);
    assert!(
        staged.stderr.contains("`no-such-branch` is not a commit of demo/app"),
        "{}",
        staged.stderr
    );
    let unknown = site.cli(&["stage", "demo/other", "main", "HEAD"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("no project `demo/other`"), "{}", unknown.stderr);
    serve.kill().unwrap();
    serve.wait().unwrap();
}

#[test]
fn without_a_service_the_cli_says_how_to_start_one() {
    let site = Site::new();
    let status = site.cli(&["status"]);
    assert_eq!(status.code, 3);
    assert!(status.stderr.contains("tollgate serve"), "{}", status.stderr);
}

#[test]
fn stage_wait_on_a_terminal_draws_a_spinner_per_work_item_and_ends_with_marks() {
    let site = Site::new();
    let mut serve = site.serve();
    let change = site.change("shown", &["shown"]);
    // `script` gives the command a terminal of its own and copies what it draws to stdout.
    let line = format!("{} stage demo/app main {change} --wait", env!("CARGO_BIN_EXE_tollgate"));
    let mut on_a_terminal = isolated("script", &site.path("home"));
    on_a_terminal
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .env("TOLLGATE_SERVER", &site.server)
        .env("TERM", "xterm");
    let shown = run(&mut on_a_terminal);
    assert_eq!(shown.code, 0, "{}\n{}", shown.stdout, shown.stderr);
    let screen = &shown.stdout;
    // Redrawn in place, which the plain lines of a pipe never are.
    assert!(screen.contains("\u{1b}["), "{screen:?}");
    assert!(screen.contains("✓ integration 1 (demo/app main @"), "{screen}");
    assert!(screen.contains(&format!("merged, main is at {}", &change[..7])), "{screen}");
    assert!(screen.contains("✓   demo/app:linux:Build  passed"), "{screen}");
    assert!(!screen.contains("demo/app:linux:Build: passed"), "not the plain lines: {screen}");
    assert_eq!(site.tip(), change);
    serve.kill().unwrap();
    serve.wait().unwrap();
}

/// The numbers (first column) of `tollgate events` lines.
fn seqs(lines: &str) -> Vec<i64> {
    lines.lines().map(|line| line.split(' ').next().unwrap().parse().unwrap()).collect()
}

/// `tollgate events --follow ARGS` started with its output piped, and its lines as they come;
/// after `take` lines its end of the pipe is closed, as `| head -n TAKE` does.
fn follower(site: &Site, args: &[&str], take: usize) -> (Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = site
        .tollgate_command(&[&["events", "--follow"], args].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stdout = Some(stdout.lines());
        for taken in 1..=take {
            let Some(Ok(line)) = stdout.as_mut().and_then(Iterator::next) else { return };
            if taken == take {
                // Closed before the line is told, so that whatever comes after finds it closed.
                drop(stdout.take());
            }
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    (child, received)
}

#[test]
fn events_show_the_newest_last_page_back_with_before_and_follow_what_comes() {
    let site = Site::new();
    let mut serve = site.serve();
    let first = site.change("first", &["first"]);
    let waited = site.cli(&["stage", "demo/app", "main", &first, "--wait"]);
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    let all = site.cli(&["events", "--json", "--limit", "1000"]).json();
    let all: Vec<i64> =
        all["items"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(all.len() > 8, "more events than two pages of four: {all:?}");

    // The newest four, the newest on the last line; stderr names the page before.
    let newest = site.cli(&["events", "--limit", "4"]);
    assert_eq!(newest.code, 0, "{}", newest.stderr);
    let shown = seqs(&newest.stdout);
    assert_eq!(shown.last(), all.iter().max(), "{}", newest.stdout);
    assert_eq!(shown, all[..4].iter().rev().copied().collect::<Vec<_>>());
    assert!(newest.stdout.lines().last().unwrap().contains(" integration_finished "));
    let before = shown[0].to_string();
    let hint = format!("older events: tollgate events --before {before} --limit 4");
    assert!(newest.stderr.contains(&hint), "{}", newest.stderr);
    let older = site.cli(&["events", "--limit", "4", "--before", &before]);
    assert_eq!(older.code, 0, "{}", older.stderr);
    assert_eq!(seqs(&older.stdout), all[4..8].iter().rev().copied().collect::<Vec<_>>());
    let whole = site.cli(&["events", "--limit", "1000"]);
    assert_eq!(seqs(&whole.stdout).len(), all.len());
    assert!(whole.stderr.is_empty(), "nothing older: {}", whole.stderr);

    // Following: the newest page first, then what happens after it started.
    let (mut following, lines) = follower(&site, &["--limit", "2"], usize::MAX);
    let (mut stopped_reading, its_lines) = follower(&site, &["--limit", "1"], 1);
    let next_line =
        |lines: &std::sync::mpsc::Receiver<String>| lines.recv_timeout(DEADLINE).unwrap();
    let page: Vec<String> = (0..2).map(|_| next_line(&lines)).collect();
    assert_eq!(seqs(&page.join("\n")), all[..2].iter().rev().copied().collect::<Vec<_>>());
    next_line(&its_lines);
    let second = site.change("second", &["second"]);
    let staged = site.cli(&["stage", "demo/app", "main", &second]);
    assert_eq!(staged.code, 0, "{}", staged.stderr);
    let newer = loop {
        let line = next_line(&lines);
        if line.contains(" staged ") {
            break line;
        }
    };
    assert!(seqs(&newer)[0] > all[0], "{newer}");
    assert!(newer.contains(&format!("commit={second}")), "{newer}");

    // Ctrl-C ends a follower cleanly, and so does a reader that stopped reading.
    let interrupt = Command::new("kill").args(["-INT", &following.id().to_string()]).status();
    assert!(interrupt.unwrap().success());
    let ended = following.wait().unwrap();
    assert!(ended.success(), "{ended:?}");
    site.until(|| stopped_reading.try_wait().unwrap().is_some());
    let ended = stopped_reading.wait().unwrap();
    assert!(ended.success(), "{ended:?}");
    serve.kill().unwrap();
    serve.wait().unwrap();
}

#[test]
fn a_token_added_with_the_admin_token_file_lets_the_cli_stage_from_the_variable_or_a_file() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    let config = path_str(&site.config);
    let mut serve = site.serve_with(&[
        "--config",
        config,
        "--data-dir",
        "data",
        "--admin-token-file",
        "admin.token",
    ]);
    let admin = site.path("admin.token");
    let mode = std::fs::metadata(&admin).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let with_admin = ["--token-file", path_str(&admin)];

    let refused = site.cli(&["token", "add", "ci", "--role", "stage"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let hint = "the service needs a token: pass --token-file FILE or set TOLLGATE_TOKEN";
    assert!(refused.stderr.contains(hint), "{}", refused.stderr);
    let added = site.cli(&[&["token", "add", "ci", "--role", "stage"][..], &with_admin].concat());
    assert_eq!(added.code, 0, "{}", added.stderr);
    let secret = added.stdout.trim().to_owned();
    assert!(secret.starts_with("tg_") && !secret.contains('\n'), "{}", added.stdout);

    let change = site.change("tokened", &["tokened"]);
    let stage = ["stage", "demo/app", "main", change.as_str()];
    let without = site.cli(&stage);
    assert_eq!(without.code, 2, "{}", without.stderr);
    assert!(without.stderr.contains(hint), "{}", without.stderr);
    let with_variable = run(site.tollgate_command(&stage).env("TOLLGATE_TOKEN", &secret));
    assert_eq!(with_variable.code, 0, "{}", with_variable.stderr);

    // A read token in a file made by `--out`, which wins over the variable.
    let reader = site.path("reader.token");
    let out = ["--out", path_str(&reader)];
    let added =
        site.cli(&[&["token", "add", "reader", "--role", "read"][..], &out, &with_admin].concat());
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(!added.stdout.contains("tg_"), "the secret is only in the file: {}", added.stdout);
    assert_eq!(std::fs::metadata(&reader).unwrap().permissions().mode() & 0o777, 0o600);
    let with_file = [&stage[..], &["--token-file", path_str(&reader)]].concat();
    let read_only = run(site.tollgate_command(&with_file).env("TOLLGATE_TOKEN", &secret));
    assert_eq!(read_only.code, 2, "{}", read_only.stderr);
    assert!(read_only.stderr.contains("`reader` has role read"), "{}", read_only.stderr);

    let listed = site.cli(&[&["token", "list"][..], &with_admin].concat());
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let names: Vec<&str> =
        listed.stdout.lines().skip(1).map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(names, ["admin", "ci", "reader"], "{}", listed.stdout);
    // The quarantine is an admin's: a stage token may list it, not add to it.
    let add = [
        "quarantine",
        "add",
        "demo/app",
        "tst_a::*",
        "--owner",
        "qa",
        "--until",
        "7d",
        "--reason",
        "QTBUG-1",
    ];
    let by_stage = run(site.tollgate_command(&add).env("TOLLGATE_TOKEN", &secret));
    assert_eq!(by_stage.code, 2, "{}", by_stage.stderr);
    assert!(by_stage.stderr.contains("needs role admin"), "{}", by_stage.stderr);
    let by_admin = site.cli(&[&add[..], &with_admin].concat());
    assert_eq!(by_admin.code, 0, "{}", by_admin.stderr);
    assert!(
        by_admin
            .stdout
            .starts_with("quarantine entry 1: tst_a::* of demo/app on every configuration, until "),
        "{}",
        by_admin.stdout
    );
    let listed = run(site.tollgate_command(&["quarantine", "list"]).env("TOLLGATE_TOKEN", &secret));
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let row: Vec<&str> = listed.stdout.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        (row[0], row[2], row[4], row[6]),
        ("1", "tst_a::*", "qa", "QTBUG-1"),
        "{}",
        listed.stdout
    );
    let bad = site.cli(
        &[
            &[
                "quarantine",
                "add",
                "demo/app",
                "t",
                "--owner",
                "qa",
                "--reason",
                "r",
                "--until",
                "soon",
            ][..],
            &with_admin,
        ]
        .concat(),
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--until: `soon` is not a day"), "{}", bad.stderr);
    let removed = site.cli(&[&["quarantine", "remove", "1"][..], &with_admin].concat());
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    let listed = site.cli(&["quarantine", "list", "demo/app"]);
    assert_eq!(listed.stdout, "no test is quarantined\n", "{}", listed.stderr);
    let tests = site.cli(&["tests", "demo/app", "--days", "7"]);
    assert_eq!(tests.stdout, "no test failed in the last 7 days\n", "{}", tests.stderr);
    let unknown = site.cli(&["tests", "demo/none"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("no project `demo/none`"), "{}", unknown.stderr);

    let revoked = site.cli(&[&["token", "revoke", "ci"][..], &with_admin].concat());
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let after = run(site.tollgate_command(&stage).env("TOLLGATE_TOKEN", &secret));
    assert_eq!(after.code, 2, "{}", after.stderr);
    assert!(after.stderr.contains("the token `ci` was revoked"), "{}", after.stderr);
    serve.kill().unwrap();
    serve.wait().unwrap();
}

/// The site's module, whose build fails at once when the tree has a `break` file.
fn breakable() -> String {
    let build = r#"["sh", "{{.SourceDir}}/build.sh"]"#;
    let breaks = r#"["sh", "-c", "test ! -e {{.SourceDir}}/break && sh {{.SourceDir}}/build.sh"]"#;
    assert!(crate::site::MODULE.contains(build));
    crate::site::MODULE.replace(build, breaks)
}

/// The tip holds c0, c1 and c3, and not the culprit c2 (nor its `break`).
fn culprit_left_out(site: &Site) {
    let tip = site.tip();
    let files = crate::site::git(
        site.tmp.path(),
        &site.path("remote.git"),
        &["ls-tree", "--name-only", &tip],
    );
    let files: Vec<&str> = files.lines().collect();
    for name in ["c0", "c1", "c3"] {
        assert!(files.contains(&name), "{name} merged: {files:?}");
    }
    assert!(!files.contains(&"c2") && !files.contains(&"break"), "{files:?}");
}

#[test]
fn after_kill_9_during_a_bisection_the_restarted_service_finds_the_culprit_and_pushes_each_merge_once()
 {
    let site = Site::with_module(&breakable());
    let mut serve = site.serve();
    // Four changes at once; the third breaks the build; the first holds every build.
    let changes = [
        site.change("c0", &["c0", "hold"]),
        site.change("c1", &["c1"]),
        site.change("c2", &["c2", "break"]),
        site.change("c3", &["c3"]),
    ];
    let stage: Vec<&str> = ["stage", "demo/app", "main"]
        .into_iter()
        .chain(changes.iter().map(String::as_str))
        .collect();
    let staged = site.cli(&stage);
    assert_eq!(staged.code, 0, "{}", staged.stderr);
    // The batch failed and was split: the first half's build holds.
    site.until(|| {
        let bisected =
            site.events("gate_decided").iter().any(|e| e["detail"]["decision"] == "bisect");
        bisected && build_state(&site.status()).as_deref() == Some("running") && site.builds() == 1
    });
    serve.kill().unwrap(); // SIGKILL
    serve.wait().unwrap();
    site.go();
    let mut serve = site.serve();

    let waited = site.cli(&[&stage[..], &["--wait"]].concat());
    assert_eq!(waited.code, 1, "one change is rejected: {}\n{}", waited.stdout, waited.stderr);
    culprit_left_out(&site);
    assert_eq!(site.moves(), 2, "two merges, each pushed once");
    assert_eq!(site.events("pushed").len(), 2);
    assert_eq!(site.events("recovered").len(), 1);
    assert_eq!(site.builds(), 3, "the interrupted build ran again, then the last change's");
    // The decision log, oldest first.
    let decisions: Vec<String> = site
        .events("gate_decided")
        .iter()
        .rev()
        .map(|e| e["detail"]["decision"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(decisions, ["bisect", "merge", "bisect", "reject", "merge"], "{decisions:?}");
    serve.kill().unwrap();
    serve.wait().unwrap();
}

#[test]
fn after_kill_9_with_speculative_integrations_running_each_merge_is_tested_and_pushed_once() {
    let site = Site::with_module(&breakable());
    // One change per integration, three deep.
    let config = std::fs::read_to_string(&site.config).unwrap();
    let config = format!("max_batch = 1\n{config}\n[[parallel_project_rules]]\ndepth = 3\n");
    std::fs::write(&site.config, config).unwrap();
    let mut serve = site.serve();
    // The first holds every build (each integration behind holds it too); the third breaks.
    let changes = [
        site.change("c0", &["c0", "hold"]),
        site.change("c1", &["c1"]),
        site.change("c2", &["c2", "break"]),
        site.change("c3", &["c3"]),
    ];
    let stage: Vec<&str> = ["stage", "demo/app", "main"]
        .into_iter()
        .chain(changes.iter().map(String::as_str))
        .collect();
    let staged = site.cli(&stage);
    assert_eq!(staged.code, 0, "{}", staged.stderr);
    // Three integrations at once, each on the one ahead; two builds hold on the two slots.
    site.until(|| site.events("integration_started").len() == 3 && site.builds() == 2);
    serve.kill().unwrap(); // SIGKILL
    serve.wait().unwrap();
    site.go();
    let mut serve = site.serve();

    let waited = site.cli(&[&stage[..], &["--wait"]].concat());
    assert_eq!(waited.code, 1, "one change is rejected: {}\n{}", waited.stdout, waited.stderr);
    culprit_left_out(&site);
    // Each merge pushed once, and only after the gate decided it: what merged was tested.
    let pushed = site.events("pushed");
    assert_eq!(site.moves(), 3, "three merges");
    assert_eq!(pushed.len(), 3, "each pushed once: {pushed:?}");
    let decided = site.events("gate_decided");
    for push in &pushed {
        let merge = decided
            .iter()
            .any(|d| d["integration"] == push["integration"] && d["detail"]["decision"] == "merge");
        assert!(merge, "integration {} pushed without a merge decision", push["integration"]);
    }
    let decisions: Vec<String> = decided
        .iter()
        .rev()
        .map(|e| e["detail"]["decision"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(decisions, ["merge", "merge", "reject", "merge"], "{decisions:?}");
    // The integration built on the rejected one ended with it, and c3 went again without c2.
    let finished = site.events("integration_finished");
    let behind = finished.iter().filter(|e| {
        e["detail"]["state"] == "cancelled"
            && e["detail"]["note"].as_str().is_some_and(|n| n.contains("ahead of it ended"))
    });
    assert!(behind.count() >= 1, "{finished:?}");
    serve.kill().unwrap();
    serve.wait().unwrap();
}
