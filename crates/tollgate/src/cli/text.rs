//! The small pieces of text the service's commands share: short commits, durations, ages,
//! aligned tables. Times are the API's: milliseconds since the Unix epoch.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tollgate_api::{ChangeView, WorkItemView};

/// Now, as the API counts time.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The first seven hex digits of a commit, as git shows it.
pub fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// `0.4 s`, `2.1 s`, `3 min 5 s`, `2 h 10 min`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    let seconds = ms / 1000;
    match seconds {
        0..60 => format!("{}.{} s", seconds, (ms % 1000) / 100),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// `12 s ago`, `3 min ago`, `2 h ago`, `4 d ago`.
pub fn age(at: i64, now: i64) -> String {
    let seconds = (now - at).max(0) / 1000;
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86400),
    }
}

/// `2026-08-01T12:00:00Z`.
pub fn time(at: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(at.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") }
}

/// How long a work item ran, or has run until `now`; nothing before it started.
fn ran_for(item: &WorkItemView, now: Option<i64>) -> Option<String> {
    let started = item.started_at?;
    let until = item.finished_at.or(now)?;
    Some(duration(until - started))
}

/// A work item's state as a person reads it: `passed (2.1 s)`, `running (attempt 2)`,
/// `failed (3.0 s, insignificant): ExecuteCommand exited with code 2`. With `now`, a running
/// item shows how long it has been running.
pub fn item_state(item: &WorkItemView, now: Option<i64>) -> String {
    let mut notes: Vec<String> = Vec::new();
    notes.extend(ran_for(item, now));
    if item.attempts > 1 {
        notes.push(format!("attempt {}", item.attempts));
    }
    if !item.significant {
        notes.push("insignificant".to_owned());
    }
    if let Some(agent) = &item.agent {
        notes.push(format!("on {agent}"));
    }
    if !item.quarantined.is_empty() {
        let tests = plural(item.quarantined.len(), "quarantined test");
        notes.push(format!("{tests} failed"));
    }
    let mut text = item.state.as_str().to_owned();
    if !notes.is_empty() {
        let _ = write!(text, " ({})", notes.join(", "));
    }
    if let Some(failure) = &item.failure {
        let _ = write!(text, ": {} {}", failure.instruction, failure.message);
    }
    if let Some(why) = &item.waiting {
        let _ = write!(text, ": {why}");
    }
    text
}

/// `12 abc1234 staged       Fix the greeting`.
pub fn change_line(change: &ChangeView) -> String {
    format!(
        "{} {} {:<11} {}",
        change.id,
        short(&change.commit),
        change.state.as_str(),
        change.subject
    )
}

/// Rows with their columns aligned, two spaces apart, each line indented by `indent`.
pub fn table(rows: &[Vec<String>], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = indent.to_owned();
        for (c, text) in row.iter().enumerate() {
            let _ = write!(line, "{text:<width$}  ", width = widths[c]);
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ages_read_at_a_glance() {
        assert_eq!(duration(2_149), "2.1 s");
        assert_eq!(duration(185_000), "3 min 5 s");
        assert_eq!(duration(7_860_000), "2 h 11 min");
        assert_eq!(age(0, 12_000), "12 s ago");
        assert_eq!(age(0, 3 * 86_400_000), "3 d ago");
        assert_eq!(time(1_785_585_600_000), "2026-08-01T12:00:00Z");
        assert_eq!(short("abc"), "abc");
    }

    #[test]
    fn tables_align_their_columns() {
        let rows = vec![
            vec!["a".to_owned(), "long".to_owned(), "x".to_owned()],
            vec!["longer".to_owned(), "b".to_owned()],
        ];
        assert_eq!(table(&rows, "  "), "  a       long  x\n  longer  b\n");
    }
}
