//! The few lines of a failed run's log that show why it failed: a test's FAIL line, the
//! compiler's error, the traceback. They go with the rejection, so that the reason is read
//! where the verdict is, without opening the log.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The most lines an excerpt has.
pub const MOST_LINES: usize = 8;
/// A longer line is cut: an excerpt is for reading at a glance.
const LONGEST_LINE: usize = 300;
/// How much of the end of a log is read: a failure shows near where the run stopped.
const TAIL: u64 = 1 << 20;

/// What in a line of output says something failed.
const SIGNS: [&str; 16] = [
    "error:",
    "error[",
    "Error:",
    "ERROR",
    "FAIL",
    "fatal:",
    "panicked",
    "Assertion",
    "assertion",
    "Traceback",
    "undefined reference",
    "*** [",
    "No such file or directory",
    "command not found",
    "Segmentation fault",
    "Killed",
];
/// Lines with a sign that still say nothing failed.
const NOT_SIGNS: [&str; 3] = ["XFAIL", "0 errors", "0 failed"];

/// The lines of the log (tollgate's format: `TIME STREAM TEXT`) that show the failure: the
/// first output lines with a sign of one, or the last output lines when none has a sign.
pub fn excerpt(log: &str) -> Vec<String> {
    let output: Vec<&str> = log
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ' ');
            let (_stamp, stream) = (fields.next()?, fields.next()?);
            matches!(stream, "out" | "err").then(|| fields.next().unwrap_or(""))
        })
        .filter(|text| !text.trim().is_empty())
        .collect();
    let signed = |text: &&str| {
        SIGNS.iter().any(|sign| text.contains(sign))
            && !NOT_SIGNS.iter().any(|not| text.contains(not))
    };
    let mut lines: Vec<&str> = output.iter().copied().filter(signed).take(MOST_LINES).collect();
    if lines.is_empty() {
        lines = output[output.len().saturating_sub(MOST_LINES)..].to_vec();
    }
    lines.into_iter().map(cut).collect()
}

/// [`excerpt`] of the end of the log file at `path`; none when it cannot be read.
pub fn excerpt_of_file(path: &Path) -> Vec<String> {
    let read = || -> std::io::Result<String> {
        let mut file = std::fs::File::open(path)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(TAIL)))?;
        let mut bytes = Vec::new();
        file.take(TAIL).read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().map(|text| excerpt(&text)).unwrap_or_default()
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(LONGEST_LINE) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[(&str, &str)]) -> String {
        lines
            .iter()
            .map(|(stream, text)| format!("2026-12-07T10:00:00.000Z {stream} {text}\n"))
            .collect()
    }

    #[test]
    fn the_lines_that_say_what_failed_are_picked_from_the_output() {
        let text = log(&[
            ("sys", "ExecuteCommand make (coin/module_config.yaml:4:7)"),
            ("out", "cc -c greeter.c"),
            ("err", "greeter.c:3:1: error: expected ';' before '}' token"),
            ("out", "make: *** [Makefile:4: greeter.o] Error 1"),
            ("sys", "exited with code 2 after 0.2 s"),
            ("sys", "failed: ExecuteCommand exited with code 2"),
        ]);
        assert_eq!(
            excerpt(&text),
            [
                "greeter.c:3:1: error: expected ';' before '}' token",
                "make: *** [Makefile:4: greeter.o] Error 1"
            ]
        );
        let text = log(&[
            ("out", "PASS   : tst_Greeter::hello()"),
            ("out", "XFAIL  : tst_Greeter::later() not yet"),
            ("out", "FAIL!  : tst_Greeter::french() Compared values are not the same"),
            ("out", "Totals: 1 passed, 1 failed, 0 skipped"),
        ]);
        assert_eq!(
            excerpt(&text),
            ["FAIL!  : tst_Greeter::french() Compared values are not the same"]
        );
    }

    #[test]
    fn without_a_sign_the_last_output_lines_are_the_excerpt_and_long_lines_are_cut() {
        let lines: Vec<(&str, String)> = (1..=12).map(|n| ("out", format!("step {n}"))).collect();
        let lines: Vec<(&str, &str)> = lines.iter().map(|(s, t)| (*s, t.as_str())).collect();
        let picked = excerpt(&log(&lines));
        assert_eq!(picked.len(), MOST_LINES);
        assert_eq!((picked[0].as_str(), picked[7].as_str()), ("step 5", "step 12"));
        let long = "x".repeat(1000) + " error: at the end";
        let picked = excerpt(&log(&[("err", &long)]));
        assert_eq!(picked[0].chars().count(), LONGEST_LINE + 1);
        assert!(excerpt(&log(&[("sys", "only our own lines")])).is_empty());
    }
}
