//! Lists read a page at a time: the newest first, older pages by the cursor each page gives,
//! and what came after a cursor for a follower; over a history written in bulk.

use std::collections::HashSet;

use tollgate_api::{IntegrationState, Rejection};
use tollgate_state::{Cursor, Db, History, Scope};

const ITEMS: [&str; 3] = ["demo/app:a:Build", "demo/app:b:Build", "demo/app:b:Test"];

async fn history(integrations: i64) -> (tempfile::TempDir, Db) {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(&tmp.path().join("state.sqlite")).await.unwrap();
    let history = History {
        project: "demo/app",
        branches: &["main", "6.8", "6.9"],
        integrations,
        items: &ITEMS,
        events_per_integration: 12,
    };
    db.fill_history(&history).await.unwrap();
    (tmp, db)
}

#[tokio::test]
async fn the_log_pages_back_from_the_newest_and_forward_from_a_cursor() {
    let (_tmp, db) = history(30).await;
    let newest = db.events(None, Cursor::Newest, 50).await.unwrap();
    assert_eq!(newest.items.len(), 50);
    assert_eq!(newest.items[0].seq, 360, "the newest first");
    assert!(newest.items.windows(2).all(|w| w[0].seq > w[1].seq));

    // Page by page to the first entry: each once, and no cursor after the last page.
    let mut seen = HashSet::new();
    let mut page = newest;
    loop {
        seen.extend(page.items.iter().map(|e| e.seq));
        let Some(before) = page.next else { break };
        assert_eq!(before, page.items.last().unwrap().seq);
        page = db.events(None, Cursor::Before(before), 50).await.unwrap();
    }
    assert_eq!(seen, (1..=360).collect());

    let after = db.events(None, Cursor::After(355), 3).await.unwrap();
    assert_eq!(after.items.iter().map(|e| e.seq).collect::<Vec<_>>(), [356, 357, 358]);
    assert_eq!(after.next, Some(358));
    let caught_up = db.events(None, Cursor::After(360), 3).await.unwrap();
    assert!(caught_up.items.is_empty());
    assert_eq!(caught_up.next, Some(360), "a follower keeps its cursor");

    let one = db.events(Some(7), Cursor::Newest, 5).await.unwrap();
    assert!(one.items.iter().all(|e| e.integration == Some(7)));
    assert_eq!(one.items[0].kind, "integration_finished");
    let rest = db.events(Some(7), Cursor::Before(one.next.unwrap()), 50).await.unwrap();
    assert_eq!(rest.items.len(), 11 - 5, "the staged entry names the change, not the integration");
    assert_eq!(rest.next, None);
}

#[tokio::test]
async fn integrations_page_back_per_branch_with_their_changes() {
    let (_tmp, db) = history(100).await;
    let main = db.integrations(Scope::Branch { project: "demo/app", branch: "main" }, None, 20);
    let main = main.await.unwrap();
    assert_eq!(main.items.len(), 20);
    assert!(main.items.iter().all(|i| i.branch == "main" && i.changes.len() == 1));
    assert!(main.items.windows(2).all(|w| w[0].id > w[1].id));
    let older = db
        .integrations(Scope::Branch { project: "demo/app", branch: "main" }, main.next, 1000)
        .await
        .unwrap();
    assert_eq!(main.items.len() + older.items.len(), 90, "nine in ten on the first branch");
    assert_eq!(older.next, None);

    let others = db.integrations(Scope::Branch { project: "demo/app", branch: "6.9" }, None, 50);
    assert_eq!(others.await.unwrap().items.len(), 5);
    let all = db.integrations(Scope::Project("demo/app"), None, 1000).await.unwrap();
    assert_eq!(all.items.len(), 100);
    assert_eq!(db.integrations(Scope::All, Some(3), 10).await.unwrap().items.len(), 2);

    let rejected = db.integration_view(7, true).await.unwrap().unwrap();
    assert_eq!(rejected.state, IntegrationState::Rejected);
    assert_eq!(rejected.rejection, Some(Rejection::Unrelated));
    let items: Vec<&str> = rejected.work_items.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(items, ITEMS);
    let change = db.change(rejected.changes[0].change).await.unwrap().unwrap();
    assert_eq!(change.integration, Some(7));
}
