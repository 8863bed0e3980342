//! Reads a raw commit object, as `git cat-file` hands it over, the way git's own pretty
//! printer reads it, so that [`CommitInfo`] says what `git log --format=%an/%s` would.

use std::str;

use crate::{CommitId, TreeOid};

/// What a commit records, in the words a list of commits uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    pub tree: TreeOid,
    /// In the order the commit lists them: the first parent first.
    pub parents: Vec<CommitId>,
    /// The author's name, as `%an` gives it (without `.mailmap`).
    pub author: String,
    /// git's subject, as `%s` gives it: the first paragraph of the message on one line.
    pub subject: String,
}

/// Reads a raw commit; `None` when it does not start with a tree and its parents, as git
/// requires of a commit.
///
/// Text is decoded as UTF-8, lossily. git re-encodes a commit whose `encoding` header names
/// another encoding (written only under `i18n.commitEncoding`, rare today); here its non-UTF-8
/// bytes read as replacement characters instead, which spares an iconv for every commit.
pub(crate) fn parse(raw: &[u8]) -> Option<CommitInfo> {
    let mut lines = raw.split(|&b| b == b'\n');
    let tree = TreeOid::parse(str::from_utf8(lines.next()?.strip_prefix(b"tree ")?).ok()?)?;
    let mut parents = Vec::new();
    for line in lines {
        let Some(id) = line.strip_prefix(b"parent ") else { break };
        let id = CommitId::parse(str::from_utf8(id).ok()?)?;
        // One repository, one hash: a parent is as long as the tree.
        if id.as_str().len() != tree.as_str().len() {
            return None;
        }
        parents.push(id);
    }

    // git's pretty printer reads the commit as a C string: a NUL ends it.
    let text = raw.split(|&b| b == 0).next().unwrap_or_default();
    let (headers, message) = split_headers(text);
    // Continuation lines of a multi-line header (`gpgsig`, `mergetag`) start with a space, so
    // they never read as an `author` line; the last `author` line counts, as in git.
    let author = headers
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"author "))
        .next_back()
        .map(ident_name)
        .unwrap_or_default();
    Some(CommitInfo { tree, parents, author: lossy(author), subject: lossy(&subject(message)) })
}

/// The headers, and the message after the first empty line (none when there is no such line).
fn split_headers(text: &[u8]) -> (&[u8], &[u8]) {
    let mut offset = 0;
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() {
            return (&text[..offset], &text[(offset + 1).min(text.len())..]);
        }
        offset += line.len() + 1;
    }
    (text, &[])
}

/// The name of an ident (`Name <email> time zone`): what precedes `<`, trailing whitespace
/// trimmed; nothing when there is no `<…>` at all (git's `split_ident_line`).
fn ident_name(ident: &[u8]) -> &[u8] {
    let Some(open) = ident.iter().position(|&b| b == b'<') else { return &[] };
    if !ident[open..].contains(&b'>') {
        return &[];
    }
    trim_end(&ident[..open])
}

/// git's `%s`: blank lines skipped, then the lines up to the next blank line or the end, each
/// with trailing whitespace trimmed, joined by a space.
fn subject(message: &[u8]) -> Vec<u8> {
    let mut subject = Vec::new();
    let lines = message.split(|&b| b == b'\n').map(trim_end);
    for line in lines.skip_while(|line| line.is_empty()).take_while(|line| !line.is_empty()) {
        if !subject.is_empty() {
            subject.push(b' ');
        }
        subject.extend_from_slice(line);
    }
    subject
}

/// git's whitespace (`isspace`): space, tab, CR and LF; not form feed or vertical tab.
fn trim_end(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    &line[..end.map_or(0, |end| end + 1)]
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests;
