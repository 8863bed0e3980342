//! What `tollgate stage --wait` shows while it waits, on stderr: on a terminal, a spinner per
//! work item with its state and time; elsewhere (a CI log, a pipe), one line per transition of
//! a change, an integration or a work item, so that the output reads as a history.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tollgate_api::{
    ChangeState, ChangeView, IntegrationState, IntegrationView, WorkItemState, WorkItemView,
};

use super::text::{item_state, now_ms, short};

pub enum Progress {
    Lines,
    Spinners(Spinners),
}

impl Progress {
    /// Spinners when stderr is a terminal, lines otherwise.
    pub fn for_stderr() -> Progress {
        use std::io::IsTerminal;
        match std::io::stderr().is_terminal() {
            true => Progress::Spinners(Spinners::default()),
            false => Progress::Lines,
        }
    }

    pub fn change(&mut self, old: &ChangeView, new: &ChangeView) {
        if let Some(line) = change_transition(old, new) {
            self.say(&line);
        }
    }

    /// `old` is the integration as last seen, `None` the first time.
    pub fn integration(&mut self, old: Option<&IntegrationView>, new: &IntegrationView) {
        match self {
            Progress::Lines => {
                for line in transitions(old, new) {
                    eprintln!("{line}");
                }
            }
            Progress::Spinners(spinners) => spinners.show(new),
        }
    }

    fn say(&self, line: &str) {
        match self {
            Progress::Lines => eprintln!("{line}"),
            Progress::Spinners(spinners) => spinners.bars.suspend(|| eprintln!("{line}")),
        }
    }
}

/// One spinner per integration, with one per work item under it.
#[derive(Default)]
pub struct Spinners {
    bars: MultiProgress,
    headers: HashMap<i64, ProgressBar>,
    items: HashMap<(i64, String), ProgressBar>,
    /// The last bar of each integration: its next work item goes after it.
    last: HashMap<i64, ProgressBar>,
}

impl Spinners {
    fn show(&mut self, view: &IntegrationView) {
        let now = Some(now_ms());
        let header = match self.headers.get(&view.id) {
            Some(header) => header.clone(),
            None => {
                let header = spin(self.bars.add(ProgressBar::new_spinner()));
                self.headers.insert(view.id, header.clone());
                self.last.insert(view.id, header.clone());
                header
            }
        };
        if header.is_finished() {
            return;
        }
        let width = view.work_items.iter().map(|i| i.id.chars().count()).max().unwrap_or(0);
        for item in &view.work_items {
            let key = (view.id, item.id.clone());
            let bar = match self.items.get(&key) {
                Some(bar) => bar.clone(),
                None => {
                    let bar = match self.last.get(&view.id) {
                        Some(after) => self.bars.insert_after(after, ProgressBar::new_spinner()),
                        None => self.bars.add(ProgressBar::new_spinner()),
                    };
                    let bar = spin(bar);
                    self.last.insert(view.id, bar.clone());
                    self.items.insert(key, bar.clone());
                    bar
                }
            };
            if bar.is_finished() {
                continue;
            }
            let text = format!("  {:<width$}  {}", item.id, item_state(item, now));
            match item.state.is_final() {
                true => finish(&bar, item_mark(item), text),
                false => bar.set_message(text),
            }
        }
        let text = format!("{} {}", title(view), integration_state(view));
        match view.state.is_final() {
            true => {
                // Whatever is still spinning under it will not move any more.
                for ((id, _), bar) in &self.items {
                    if *id == view.id && !bar.is_finished() {
                        finish(bar, '-', bar.message());
                    }
                }
                let mark = match view.state {
                    IntegrationState::Merged => '✓',
                    IntegrationState::Rejected | IntegrationState::Errored => '✗',
                    _ => '-',
                };
                finish(&header, mark, text);
            }
            false => header.set_message(text),
        }
    }
}

/// Spins `bar`, once it is in the `MultiProgress`: ticking before would draw it outside.
fn spin(bar: ProgressBar) -> ProgressBar {
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn finish(bar: &ProgressBar, mark: char, text: String) {
    bar.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
    bar.finish_with_message(format!("{mark} {text}"));
}

fn item_mark(item: &WorkItemView) -> char {
    match item.state {
        WorkItemState::Passed | WorkItemState::Reused => '✓',
        WorkItemState::Failed | WorkItemState::Error => '✗',
        _ => '-',
    }
}

/// `integration 3 (demo/greeter dev @ abc1234, changes 12, 13):`.
fn title(view: &IntegrationView) -> String {
    let changes: Vec<String> = view.changes.iter().map(|c| c.change.to_string()).collect();
    format!(
        "integration {} ({} {} @ {}, {} {}):",
        view.id,
        view.project,
        view.branch,
        short(&view.base),
        if changes.len() == 1 { "change" } else { "changes" },
        changes.join(", ")
    )
}

/// `running`, `merged, dev is at 1234abc`, `errored: <note>; its changes are staged again`.
fn integration_state(view: &IntegrationView) -> String {
    let mut text = view.state.as_str().to_owned();
    if let (IntegrationState::Merged, Some(commit)) = (view.state, &view.commit) {
        text.push_str(&format!(", {} is at {}", view.branch, short(commit)));
    }
    if view.state.is_final()
        && let Some(note) = &view.note
    {
        text.push_str(&format!(": {note}"));
    }
    if matches!(
        view.state,
        IntegrationState::Superseded | IntegrationState::Errored | IntegrationState::Cancelled
    ) {
        text.push_str("; its changes are staged again");
    }
    text
}

/// The plain lines for what changed between two sightings of an integration: its state,
/// then each work item that moved. A work item first seen waiting says nothing.
pub fn transitions(old: Option<&IntegrationView>, new: &IntegrationView) -> Vec<String> {
    let headline = match old {
        None => Some(format!("{} {}", title(new), integration_state(new))),
        Some(old) if old.state != new.state => {
            Some(format!("integration {}: {}", new.id, integration_state(new)))
        }
        Some(_) => None,
    };
    let mut lines = Vec::new();
    for item in &new.work_items {
        let before = old.and_then(|old| old.work_items.iter().find(|i| i.id == item.id));
        let moved = match before {
            None => item.state != WorkItemState::Waiting,
            Some(before) => before.state != item.state || before.attempts != item.attempts,
        };
        if moved {
            lines.push(format!("{}: {}", item.id, item_state(item, None)));
        }
    }
    match headline {
        // The integration's end after its work items' ends, as it happened.
        Some(headline) if old.is_some() && new.state.is_final() => lines.push(headline),
        Some(headline) => lines.insert(0, headline),
        None => {}
    }
    lines
}

/// `change 12: integrating in integration 3`, `change 12: merged`.
pub fn change_transition(old: &ChangeView, new: &ChangeView) -> Option<String> {
    if old.state == new.state && old.integration == new.integration {
        return None;
    }
    let mut line = format!("change {}: {}", new.id, new.state.as_str());
    if let (ChangeState::Integrating, Some(integration)) = (new.state, new.integration) {
        line.push_str(&format!(" in integration {integration}"));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use tollgate_api::{FailureView, IntegrationChange, MergeResult};

    use super::*;

    fn item(id: &str, state: WorkItemState, times: Option<(i64, i64)>) -> WorkItemView {
        WorkItemView {
            id: id.into(),
            build_key: "b3".into(),
            significant: true,
            state,
            attempts: u32::from(state != WorkItemState::Waiting),
            started_at: times.map(|t| t.0),
            finished_at: times.map(|t| t.1).filter(|_| state.is_final()),
            failure: None,
            log: None,
            agent: None,
            waiting: None,
            quarantined: Vec::new(),
        }
    }

    fn integration(state: IntegrationState, work_items: Vec<WorkItemView>) -> IntegrationView {
        IntegrationView {
            id: 3,
            project: "demo/greeter".into(),
            branch: "dev".into(),
            state,
            base: "abc1234def".into(),
            commit: Some("1234abcdef".into()),
            changes: vec![IntegrationChange {
                staged_at: None,
                change: 12,
                commit: "fedcba9876".into(),
                subject: "Greet in French".into(),
                merge: Some(MergeResult::Merged),
            }],
            work_items,
            rejection: None,
            note: None,
            created_at: 0,
            finished_at: None,
        }
    }

    const BUILD: &str = "demo/greeter:debian-12:Build";
    const TEST: &str = "demo/greeter:debian-12:Test";
    const LIB: &str = "demo/libgreet:debian-12:Build";

    #[test]
    fn first_sight_names_the_integration_and_what_already_moved() {
        let new = integration(
            IntegrationState::Running,
            vec![
                item(LIB, WorkItemState::Reused, None),
                item(BUILD, WorkItemState::Running, Some((1_000, 0))),
                item(TEST, WorkItemState::Waiting, None),
            ],
        );
        assert_eq!(
            transitions(None, &new),
            [
                "integration 3 (demo/greeter dev @ abc1234, change 12): running",
                "demo/libgreet:debian-12:Build: reused",
                "demo/greeter:debian-12:Build: running",
            ]
        );
    }

    #[test]
    fn each_state_change_is_one_line() {
        let old = integration(
            IntegrationState::Running,
            vec![
                item(BUILD, WorkItemState::Running, Some((1_000, 0))),
                item(TEST, WorkItemState::Waiting, None),
            ],
        );
        let new = integration(
            IntegrationState::Running,
            vec![
                item(BUILD, WorkItemState::Passed, Some((1_000, 3_100))),
                item(TEST, WorkItemState::Running, Some((3_200, 0))),
            ],
        );
        assert_eq!(
            transitions(Some(&old), &new),
            [
                "demo/greeter:debian-12:Build: passed (2.1 s)",
                "demo/greeter:debian-12:Test: running"
            ]
        );
        assert!(transitions(Some(&new), &new).is_empty());
    }

    #[test]
    fn a_failure_and_the_end_of_the_integration() {
        let old = integration(
            IntegrationState::Running,
            vec![item(TEST, WorkItemState::Running, Some((1_000, 0)))],
        );
        let mut failed = item(TEST, WorkItemState::Failed, Some((1_000, 5_000)));
        failed.failure = Some(FailureView {
            work_item: TEST.into(),
            project: "demo/greeter".into(),
            configuration: "debian-12".into(),
            location: "demo/greeter/coin/instructions/test.yaml:3:5".into(),
            instruction: "ExecuteCommand".into(),
            message: "exited with code 1".into(),
            user_message: None,
            log: None,
            excerpt: Vec::new(),
            tests: Vec::new(),
        });
        let new = integration(IntegrationState::Rejected, vec![failed]);
        assert_eq!(
            transitions(Some(&old), &new),
            [
                "demo/greeter:debian-12:Test: failed (4.0 s): ExecuteCommand exited with code 1",
                "integration 3: rejected",
            ]
        );
    }

    #[test]
    fn a_retry_and_an_insignificant_item_say_so() {
        let old = integration(
            IntegrationState::Running,
            vec![item(TEST, WorkItemState::Running, Some((1_000, 0)))],
        );
        let mut retried = item(TEST, WorkItemState::Running, Some((9_000, 0)));
        retried.attempts = 2;
        retried.significant = false;
        let new = integration(IntegrationState::Running, vec![retried]);
        assert_eq!(
            transitions(Some(&old), &new),
            ["demo/greeter:debian-12:Test: running (attempt 2, insignificant)"]
        );
    }

    #[test]
    fn an_integration_given_up_puts_its_changes_back() {
        let old = integration(IntegrationState::Running, vec![]);
        let mut new = integration(IntegrationState::Errored, vec![]);
        new.note = Some("the runner failed 3 times".into());
        assert_eq!(
            transitions(Some(&old), &new),
            ["integration 3: errored: the runner failed 3 times; its changes are staged again"]
        );
        let superseded = integration(IntegrationState::Superseded, vec![]);
        assert_eq!(
            transitions(Some(&old), &superseded),
            ["integration 3: superseded; its changes are staged again"]
        );
        let merged = integration(IntegrationState::Merged, vec![]);
        assert_eq!(transitions(Some(&old), &merged), ["integration 3: merged, dev is at 1234abc"]);
    }

    #[test]
    fn changes_say_where_they_went() {
        let staged = ChangeView {
            id: 12,
            project: "demo/greeter".into(),
            branch: "dev".into(),
            commit: "fedcba9876".into(),
            subject: "Greet in French".into(),
            author: "Ada".into(),
            state: ChangeState::Staged,
            origin: "api".into(),
            staged_at: 0,
            integration: None,
            rejection: None,
        };
        let integrating =
            ChangeView { state: ChangeState::Integrating, integration: Some(3), ..staged.clone() };
        let merged = ChangeView { state: ChangeState::Merged, ..integrating.clone() };
        assert_eq!(
            change_transition(&staged, &integrating).as_deref(),
            Some("change 12: integrating in integration 3")
        );
        assert_eq!(change_transition(&integrating, &merged).as_deref(), Some("change 12: merged"));
        assert_eq!(change_transition(&merged, &merged), None);
    }
}
