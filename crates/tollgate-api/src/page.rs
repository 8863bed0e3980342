//! A list answered a page at a time, so that an answer costs the same however long the history
//! behind it is.

use serde::{Deserialize, Serialize};

/// The most a page holds, whatever `limit` asks for.
pub const MAX_PAGE: i64 = 1000;

/// One page of a list and the cursor of the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// Newest first; oldest first when the request asked for what came `after` a cursor.
    pub items: Vec<T>,
    /// What to ask with for the next page: `before=` this for the older items of a newest-first
    /// page, none when the page reaches the first one; `after=` this for what comes next after
    /// an `after` page (the cursor the request gave when nothing came).
    pub next: Option<i64>,
}
