//! Every query that can reach a big table (changes, integrations, work items, events) uses an
//! index for it, checked with SQLite's own `EXPLAIN QUERY PLAN` on the schema as `Db::open`
//! makes it: no step reads such a table whole, and none sorts what it found unless that is a
//! few rows whatever the history. Lookups by primary key (`WHERE id = ?`,
//! `WHERE integration = ? AND item = ?`) stay inline in their modules; whatever filters on
//! anything else is a `pub(crate) const` listed here, and a test checks that none is missing.

use sqlx::{AssertSqlSafe, Row};

use crate::{
    Db, changes, events, integrations, leases, pace, projects, quarantine, test_history, tokens,
    undecided, views, work_items,
};

/// The tables that grow with history.
const BIG: [&str; 8] = [
    "changes",
    "integration_changes",
    "integrations",
    "work_items",
    "events",
    "leases",
    "item_days",
    "test_days",
];

/// Partial indexes that hold only what has not ended: scanning one reads a row per branch.
const BOUNDED: [&str; 2] = ["integrations_unfinished", "leases_active"];

/// Queries that sort what they found rather than read it in index order, each because what it
/// finds is a few rows whatever the history: the unfinished integrations (a chain per branch), the
/// changes of a page of integrations, the work items of one plan, the changes whose commit
/// starts with a prefix of at least four digits, the tests that failed in a window, a project's
/// quarantine entries in force.
const SORT_A_FEW: [&str; 6] = [
    "quarantine::IN_FORCE",
    "test_history::FAILED_SINCE",
    "integrations::UNFINISHED",
    "views::CHANGES_OF",
    "work_items::ITEMS",
    "changes::NEWEST_WITH_PREFIX",
];

const QUERIES: &[(&str, &str)] = &[
    ("changes::STAGED_COMMIT", changes::STAGED_COMMIT),
    ("changes::UNSTAGE_MATCH", changes::UNSTAGE_MATCH),
    ("changes::NEWEST_WITH_PREFIX", changes::NEWEST_WITH_PREFIX),
    ("projects::STAGED_ON", projects::STAGED_ON),
    ("changes::OF_BRANCH_IN", changes::OF_BRANCH_IN),
    ("events::BEFORE", events::BEFORE),
    ("events::AFTER", events::AFTER),
    ("events::OF_INTEGRATION_BEFORE", events::OF_INTEGRATION_BEFORE),
    ("events::OF_INTEGRATION_AFTER", events::OF_INTEGRATION_AFTER),
    ("events::LAST", events::LAST),
    ("integrations::UNFINISHED", integrations::UNFINISHED),
    ("leases::ACTIVE", leases::ACTIVE),
    ("leases::RELEASE_OF", leases::RELEASE_OF),
    ("integrations::UNFINISHED_ON", integrations::UNFINISHED_ON),
    ("integrations::NEWEST_REJECTED", integrations::NEWEST_REJECTED),
    ("integrations::STAGED", integrations::STAGED),
    ("integrations::QUEUED_UP_TO", integrations::QUEUED_UP_TO),
    ("integrations::INTEGRATING", integrations::INTEGRATING),
    ("integrations::REJECT_CHANGES", integrations::REJECT_CHANGES),
    ("integrations::MERGE_CHANGES", integrations::MERGE_CHANGES),
    ("integrations::GIVE_BACK_CHANGES", integrations::GIVE_BACK_CHANGES),
    ("integrations::CANCEL_ITEMS", integrations::CANCEL_ITEMS),
    ("tokens::BY_HASH", tokens::BY_HASH),
    ("tokens::ANY_ACTIVE", tokens::ANY_ACTIVE),
    ("undecided::UNDECIDED", undecided::UNDECIDED),
    ("views::ONE", views::ONE),
    ("views::BEFORE", views::BEFORE),
    ("views::OF_PROJECT_BEFORE", views::OF_PROJECT_BEFORE),
    ("views::OF_BRANCH_BEFORE", views::OF_BRANCH_BEFORE),
    ("views::CHANGES_OF", views::CHANGES_OF),
    ("views::BRANCHES", views::BRANCHES),
    ("work_items::RECOVER", work_items::RECOVER),
    ("work_items::ITEMS", work_items::ITEMS),
    ("work_items::STATE", work_items::STATE),
    ("work_items::LOG_OF", work_items::LOG_OF),
    ("work_items::NEWEST_LOG_OF", work_items::NEWEST_LOG_OF),
    ("work_items::RAN_BEFORE", work_items::RAN_BEFORE),
    ("pace::QUEUE", pace::QUEUE),
    ("test_history::FAILED_SINCE", test_history::FAILED_SINCE),
    ("test_history::TEST_SINCE", test_history::TEST_SINCE),
    ("test_history::RUNS_SINCE", test_history::RUNS_SINCE),
    ("pace::VERDICTS", pace::VERDICTS),
    ("quarantine::IN_FORCE", quarantine::IN_FORCE),
    ("quarantine::NEWEST", quarantine::NEWEST),
];

/// The steps of a query's plan, one line each, as `EXPLAIN QUERY PLAN` words them.
async fn plan(db: &Db, sql: &str) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query(AssertSqlSafe(explain));
    // The parameters' values do not change the plan.
    for _ in 0..sql.matches('?').count() {
        query = query.bind(None::<i64>);
    }
    let rows = query.fetch_all(&db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter().map(|row| row.get::<String, _>("detail")).collect()
}

/// Why a step of a plan reads a big table whole, if it does.
fn whole_table(step: &str) -> Option<&str> {
    let scanned = step.strip_prefix("SCAN ")?;
    let table = scanned.split_whitespace().next()?;
    if !BIG.contains(&table) {
        return None;
    }
    let partial = BOUNDED.iter().any(|index| scanned.ends_with(&format!("INDEX {index}")));
    (!partial).then_some(table)
}

#[tokio::test]
async fn no_query_reads_a_table_that_grows_with_history_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(&tmp.path().join("state.sqlite")).await.unwrap();
    let mut scans = Vec::new();
    for (name, sql) in QUERIES {
        let steps = plan(&db, sql).await;
        println!("{name}:\n  {}", steps.join("\n  "));
        for step in &steps {
            if let Some(table) = whole_table(step) {
                scans.push(format!("{name} reads {table} whole: {step}"));
            }
            // A sort before a LIMIT reads every row that matches, not a page of them.
            if step.starts_with("USE TEMP B-TREE") && !SORT_A_FEW.contains(name) {
                scans.push(format!("{name} sorts what it found: {step}"));
            }
        }
    }
    assert!(scans.is_empty(), "{}", scans.join("\n"));
}

#[test]
fn a_scan_of_a_big_table_is_told_from_a_search_and_a_bounded_index() {
    assert_eq!(whole_table("SCAN events"), Some("events"));
    assert_eq!(whole_table("SCAN changes USING INDEX changes_by_branch"), Some("changes"));
    assert_eq!(whole_table("SEARCH events USING INTEGER PRIMARY KEY (rowid<?)"), None);
    assert_eq!(whole_table("SCAN integrations USING INDEX integrations_unfinished"), None);
    assert_eq!(whole_table("SCAN branches USING COVERING INDEX sqlite_autoindex_branches_1"), None);
}

#[test]
fn every_named_query_is_in_the_list() {
    let modules = [
        ("changes", include_str!("changes.rs")),
        ("events", include_str!("events.rs")),
        ("integrations", include_str!("integrations.rs")),
        ("pace", include_str!("pace.rs")),
        ("quarantine", include_str!("quarantine.rs")),
        ("test_history", include_str!("test_history.rs")),
        ("tokens", include_str!("tokens.rs")),
        ("views", include_str!("views.rs")),
        ("work_items", include_str!("work_items.rs")),
    ];
    let listed: Vec<&str> = QUERIES.iter().map(|(name, _)| *name).collect();
    for (module, source) in modules {
        for line in source.lines() {
            let Some(rest) = line.strip_prefix("pub(crate) const ") else { continue };
            let Some((constant, _)) = rest.split_once(": &str") else { continue };
            let name = format!("{module}::{constant}");
            assert!(listed.contains(&name.as_str()), "{name} is not checked by this file");
        }
    }
}
