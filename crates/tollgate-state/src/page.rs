//! Where a page of a list starts, and how a page is cut from the rows read for it.

use tollgate_api::Page;

/// Where a page starts. A list is read a page at a time from an index, newest first, or from
/// a cursor onwards to follow it: never from its beginning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// The newest items.
    Newest,
    /// The items older than this one, newest first.
    Before(i64),
    /// The items newer than this one, oldest first.
    After(i64),
}

impl Cursor {
    /// The bound to bind for the `<` or `>` of the query.
    pub(crate) fn bound(self) -> i64 {
        match self {
            Cursor::Newest => i64::MAX,
            Cursor::Before(key) | Cursor::After(key) => key,
        }
    }
}

/// A page of at most `limit` items out of `rows`, which were read with `limit + 1` so that
/// one more row tells whether an older page exists without counting anything.
pub(crate) fn cut<T>(
    mut rows: Vec<T>,
    limit: i64,
    cursor: Cursor,
    key: impl Fn(&T) -> i64,
) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next = match cursor {
        Cursor::After(after) => Some(rows.last().map_or(after, &key)),
        Cursor::Newest | Cursor::Before(_) => rows.last().map(&key).filter(|_| more),
    };
    Page { items: rows, next }
}
