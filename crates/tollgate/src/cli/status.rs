//! `tollgate status`: each gated branch with its queue, its integration running now and the
//! recent ones.

use std::fmt::Write;
use std::process::ExitCode;

use tollgate_api::{BranchView, ChangeView, IntegrationState, IntegrationView, Status, routes};

use super::client::{self, ServerArgs};
use super::rejection::render_rejection;
use super::text::{age, item_state, now_ms, short, table};

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Prints the service's answer as JSON, as it came.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        if args.json {
            client::print_json(&client.get_raw(routes::STATUS, &[]).await?)?;
        } else {
            let status: Status = client.get(routes::STATUS, &[]).await?;
            client::print(&render_status(&status, now_ms(), |path| client.link(path)))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The human form; ages are counted to `now`, and `link` makes a URL of an API path.
pub fn render_status(status: &Status, now: i64, link: impl Fn(&str) -> String) -> String {
    let mut out = format!("slots: {} of {} busy\n", status.slots_busy, status.slots);
    for project in &status.projects {
        if let Some(error) = &project.fetch_error {
            let _ = writeln!(out, "{}: the last fetch failed: {error}", project.spec.name);
        }
    }
    for warning in &status.warnings {
        let _ = writeln!(out, "{} {}: {}", warning.project, warning.branch, warning.message);
    }
    if status.branches.is_empty() {
        out.push_str("\nno gated branches (add a project with `tollgate project add`)\n");
    }
    for branch in &status.branches {
        out.push('\n');
        out.push_str(&render_branch(branch, now, &link));
    }
    out
}

fn render_branch(branch: &BranchView, now: i64, link: &impl Fn(&str) -> String) -> String {
    let tip = match (&branch.tip, branch.missing) {
        (Some(tip), _) => short(tip),
        (None, true) => "(missing: the remote has no such branch; nothing merges until it is back)",
        (None, false) => "(not fetched yet)",
    };
    let mut out = format!("{} {} @ {tip}\n", branch.project, branch.branch);
    if branch.queue.is_empty() {
        out.push_str("  queue: empty\n");
    } else {
        out.push_str("  queue:\n");
        let rows: Vec<Vec<String>> = branch.queue.iter().map(|c| queued(c, now)).collect();
        out.push_str(&table(&rows, "    "));
    }
    match &branch.current {
        None => out.push_str("  no integration running\n"),
        Some(current) => {
            let _ = writeln!(
                out,
                "  integration {}: {} ({} on {}, formed {})",
                current.id,
                current.state.as_str(),
                changes(current),
                short(&current.base),
                age(current.created_at, now)
            );
            let rows: Vec<Vec<String>> = current
                .work_items
                .iter()
                .map(|item| vec![item.id.clone(), item_state(item, Some(now))])
                .collect();
            out.push_str(&table(&rows, "    "));
        }
    }
    if !branch.recent.is_empty() {
        out.push_str("  recent:\n");
        let rows: Vec<Vec<String>> = branch
            .recent
            .iter()
            .map(|i| {
                vec![
                    i.id.to_string(),
                    i.state.as_str().to_owned(),
                    i.outcome(),
                    age(i.finished_at.unwrap_or(i.created_at), now),
                ]
            })
            .collect();
        out.push_str(&table(&rows, "    "));
    }
    // Why the newest rejection was made, where the verdict is read.
    let rejected = branch.recent.iter().find(|i| i.state == IntegrationState::Rejected);
    if let Some((integration, rejection)) =
        rejected.and_then(|i| i.rejection.as_ref().map(|r| (i, r)))
    {
        let _ = writeln!(out, "  integration {} was rejected:", integration.id);
        for line in render_rejection(rejection, None, link).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// `14  9876543  Add a farewell  Ada  staged 2 min ago`.
fn queued(change: &ChangeView, now: i64) -> Vec<String> {
    // `Ada Lovelace <ada@example.org>`: the name is enough here.
    let author = change.author.split(" <").next().unwrap_or(&change.author);
    vec![
        change.id.to_string(),
        short(&change.commit).to_owned(),
        change.subject.clone(),
        author.to_owned(),
        format!("staged {}", age(change.staged_at, now)),
    ]
}

/// `changes 12, 13`.
fn changes(integration: &IntegrationView) -> String {
    let ids: Vec<String> = integration.changes.iter().map(|c| c.change.to_string()).collect();
    let word = if ids.len() == 1 { "change" } else { "changes" };
    format!("{word} {}", ids.join(", "))
}

#[cfg(test)]
mod tests {
    use tollgate_api::{
        ChangeState, IntegrationChange, IntegrationState, MergeResult, ProjectSpec, ProjectView,
        Rejection, WorkItemState, WorkItemView,
    };

    use super::*;

    const MINUTE: i64 = 60_000;
    const NOW: i64 = 1_785_585_600_000;

    fn change(id: i64, commit: &str, subject: &str, state: ChangeState) -> ChangeView {
        ChangeView {
            id,
            project: "demo/greeter".into(),
            branch: "dev".into(),
            commit: commit.into(),
            subject: subject.into(),
            author: "Ada Lovelace <ada@example.org>".into(),
            state,
            origin: "api".into(),
            staged_at: NOW - 2 * MINUTE,
            integration: None,
            rejection: None,
        }
    }

    fn integration(id: i64, state: IntegrationState, changes: &[i64]) -> IntegrationView {
        IntegrationView {
            id,
            project: "demo/greeter".into(),
            branch: "dev".into(),
            state,
            base: "abc1234def0".into(),
            commit: None,
            changes: changes
                .iter()
                .map(|&change| IntegrationChange {
                    staged_at: None,
                    change,
                    commit: "fedcba98765".into(),
                    subject: "a change".into(),
                    merge: None,
                })
                .collect(),
            work_items: vec![],
            rejection: None,
            note: None,
            created_at: NOW - MINUTE,
            finished_at: None,
        }
    }

    fn item(id: &str, state: WorkItemState, started: Option<i64>, ran: i64) -> WorkItemView {
        WorkItemView {
            id: id.into(),
            build_key: "b3".into(),
            significant: true,
            state,
            attempts: u32::from(started.is_some()),
            started_at: started,
            finished_at: started.filter(|_| state.is_final()).map(|s| s + ran),
            failure: None,
            log: None,
            agent: None,
            waiting: None,
            quarantined: Vec::new(),
        }
    }

    fn status() -> Status {
        let mut current = integration(3, IntegrationState::Running, &[12, 13]);
        current.work_items = vec![
            item("demo/libgreet:debian-12:Build", WorkItemState::Reused, None, 0),
            item("demo/greeter:debian-12:Build", WorkItemState::Passed, Some(NOW - 9_000), 2_100),
            item("demo/greeter:debian-12:Test", WorkItemState::Running, Some(NOW - 4_000), 0),
            item("demo/greeter:ubuntu-24:Build", WorkItemState::Waiting, None, 0),
            item("demo/greeter:macos-14:Build", WorkItemState::Waiting, None, 0),
        ];
        current.work_items[2].agent = Some("build-7".into());
        current.work_items[4].waiting =
            Some("no agent serves template qtci-macos-14-arm-106".into());
        // Change 8 conflicted and was rejected on its own; 11 merged.
        let mut merged = integration(2, IntegrationState::Merged, &[8, 11]);
        merged.changes[0].merge = Some(MergeResult::Conflict);
        merged.finished_at = Some(NOW - 5 * MINUTE);
        let mut rejected = integration(1, IntegrationState::Rejected, &[9, 10]);
        rejected.finished_at = Some(NOW - 90 * MINUTE);
        rejected.rejection = Some(Rejection::Unrelated);
        Status {
            projects: vec![ProjectView {
                spec: ProjectSpec {
                    name: "demo/libgreet".into(),
                    url: "file:///srv/git/libgreet".into(),
                    branches: vec![],
                    product: None,
                },
                fetched_at: None,
                fetch_error: Some("git fetch exited with code 128".into()),
            }],
            branches: vec![
                BranchView {
                    project: "demo/greeter".into(),
                    branch: "dev".into(),
                    tip: Some("abc1234def0".into()),
                    missing: false,
                    queue: vec![
                        change(14, "9876543210", "Add a farewell", ChangeState::Staged),
                        change(15, "1111111aaa", "Say it twice", ChangeState::Staged),
                    ],
                    current: Some(current),
                    recent: vec![merged, rejected],
                },
                BranchView {
                    project: "demo/greeter".into(),
                    branch: "release".into(),
                    tip: None,
                    missing: false,
                    queue: vec![],
                    current: None,
                    recent: vec![],
                },
                BranchView {
                    project: "demo/greeter".into(),
                    branch: "old".into(),
                    tip: None,
                    missing: true,
                    queue: vec![change(16, "2222222bbb", "Late fix", ChangeState::Staged)],
                    current: None,
                    recent: vec![],
                },
            ],
            slots_busy: 1,
            slots: 2,
            ..Default::default()
        }
    }

    #[test]
    fn a_stalled_branch_is_said_at_the_top() {
        let mut status = status();
        status.warnings = vec![tollgate_api::HealthWarning {
            project: "demo/greeter".into(),
            branch: "main".into(),
            kind: "stalled".into(),
            message: "no verdict for 62 min".into(),
            waited_seconds: 3720,
            limit_seconds: 3600,
        }];
        let out = render_status(&status, NOW, |path| path.to_owned());
        let top: Vec<&str> = out.lines().take(3).collect();
        assert!(top.contains(&"demo/greeter main: no verdict for 62 min"), "{out}");
    }

    #[test]
    fn branches_show_their_queue_their_integration_and_the_recent_ones() {
        assert_eq!(
            render_status(&status(), NOW, |path| format!("http://127.0.0.1:8080{path}")),
            "\
slots: 1 of 2 busy
demo/libgreet: the last fetch failed: git fetch exited with code 128

demo/greeter dev @ abc1234
  queue:
    14  9876543  Add a farewell  Ada Lovelace  staged 2 min ago
    15  1111111  Say it twice    Ada Lovelace  staged 2 min ago
  integration 3: running (changes 12, 13 on abc1234, formed 1 min ago)
    demo/libgreet:debian-12:Build  reused
    demo/greeter:debian-12:Build   passed (2.1 s)
    demo/greeter:debian-12:Test    running (4.0 s, on build-7)
    demo/greeter:ubuntu-24:Build   waiting
    demo/greeter:macos-14:Build    waiting: no agent serves template qtci-macos-14-arm-106
  recent:
    2  merged    1 change, 1 rejected for a conflict  5 min ago
    1  rejected  2 changes                            1 h ago
  integration 1 was rejected:
    shares no history with the branch

demo/greeter release @ (not fetched yet)
  queue: empty
  no integration running

demo/greeter old @ (missing: the remote has no such branch; nothing merges until it is back)
  queue:
    16  2222222  Late fix  Ada Lovelace  staged 2 min ago
  no integration running
"
        );
    }

    #[test]
    fn no_branches_says_how_to_add_one() {
        let status = Status {
            projects: vec![],
            branches: vec![],
            slots_busy: 0,
            slots: 4,
            ..Default::default()
        };
        assert_eq!(
            render_status(&status, NOW, |path| format!("http://127.0.0.1:8080{path}")),
            "slots: 0 of 4 busy\n\nno gated branches (add a project with `tollgate project add`)\n"
        );
    }
}
