//! A database written by an older tollgate opens with the new one: brought to the current
//! version in place, with its rows, and with the same schema as a database made new.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tollgate_api::{ChangeState, IntegrationState, WorkItemState};
use tollgate_state::{Cursor, Db};

/// The schema as version 1 wrote it.
const SCHEMA_V1: &str = include_str!("schema_v1.sql");

/// A little of everything, as version 1 left it: a merged integration with its change, work
/// item and events, and a change still staged.
const ROWS_V1: &str = "
INSERT INTO projects (name, url) VALUES ('demo/app', 'file:///srv/git/app');
INSERT INTO branches (project, branch) VALUES ('demo/app', 'main');
INSERT INTO integrations (id, project, branch, state, base, commit_id, created_at, finished_at)
    VALUES (1, 'demo/app', 'main', 'merged', 'b0', 'c1', 1000, 2000);
INSERT INTO changes (id, project, branch, commit_id, subject, author, origin, state, staged_at,
    integration) VALUES
    (1, 'demo/app', 'main', 'c1', 'First', 'Dev <dev@example.org>', 'api', 'merged', 900, 1),
    (2, 'demo/app', 'main', 'c2', 'Second', 'Dev <dev@example.org>', 'api', 'staged', 2500, NULL);
INSERT INTO integration_changes (integration, change, position, merge)
    VALUES (1, 1, 0, 'fast_forward');
INSERT INTO work_items (integration, position, item, build_key, significant, state, attempts,
    started_at, finished_at, log_digest)
    VALUES (1, 0, 'demo/app:linux:Build', 'k1', 1, 'passed', 1, 1100, 1900, 'd1');
INSERT INTO events (at, kind, project, branch, integration, change, detail) VALUES
    (900, 'staged', 'demo/app', 'main', NULL, 1, '{}'),
    (1000, 'integration_started', 'demo/app', 'main', 1, NULL, '{}'),
    (2000, 'integration_finished', 'demo/app', 'main', 1, NULL, '{\"state\":\"merged\"}');
PRAGMA user_version = 1;
";

async fn connect(path: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::from_str("sqlite:").unwrap().filename(path);
    options.create_if_missing(true).connect().await.unwrap()
}

/// The version and every table and index, their SQL with its spacing evened out.
async fn schema(path: &Path) -> (i64, Vec<(String, String)>) {
    let mut connection = connect(path).await;
    let version = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut connection).await;
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master ORDER BY name")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    connection.close().await.unwrap();
    let even = |sql: Option<String>| sql.unwrap_or_default().split_whitespace().collect();
    let objects = rows.into_iter().map(|(name, sql)| (name, even(sql))).collect();
    (version.unwrap(), objects)
}

#[tokio::test]
async fn a_version_1_database_is_migrated_with_its_rows_to_the_schema_of_a_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old.sqlite");
    let mut connection = connect(&old).await;
    sqlx::raw_sql(SCHEMA_V1).execute(&mut connection).await.unwrap();
    sqlx::raw_sql(ROWS_V1).execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();

    let db = Db::open(&old).await.unwrap();
    let merged = db.integration_view(1, true).await.unwrap().unwrap();
    assert_eq!(merged.state, IntegrationState::Merged);
    assert_eq!(merged.changes.len(), 1);
    assert_eq!(merged.changes[0].subject, "First");
    assert_eq!(merged.work_items.len(), 1);
    assert_eq!(merged.work_items[0].state, WorkItemState::Passed);
    let queue = db.changes("demo/app", "main", ChangeState::Staged).await.unwrap();
    assert_eq!(queue.iter().map(|c| c.id).collect::<Vec<_>>(), [2]);
    let events = db.events(None, Cursor::Newest, 10).await.unwrap();
    let kinds: Vec<&str> = events.items.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["integration_finished", "integration_started", "staged"]);
    db.close().await;

    let new = tmp.path().join("new.sqlite");
    Db::open(&new).await.unwrap().close().await;
    let (version, migrated) = schema(&old).await;
    let (new_version, made_new) = schema(&new).await;
    assert_eq!(version, new_version);
    assert_eq!(version, 8);
    assert_eq!(migrated, made_new);
    assert!(migrated.iter().any(|(name, _)| name == "integrations_unfinished"), "{migrated:?}");
    assert!(migrated.iter().any(|(name, _)| name == "work_items_that_ran"), "{migrated:?}");
    assert!(migrated.iter().any(|(name, _)| name == "integrations_rejected"), "{migrated:?}");

    // Opening it again changes nothing.
    Db::open(&old).await.unwrap().close().await;
    assert_eq!(schema(&old).await.1, made_new);
}

#[tokio::test]
async fn a_database_of_a_newer_tollgate_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("state.sqlite");
    let mut connection = connect(&path).await;
    sqlx::raw_sql("CREATE TABLE future (x); PRAGMA user_version = 99;")
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let error = Db::open(&path).await.unwrap_err();
    assert!(error.to_string().contains("99"), "{error}");
    assert_eq!(schema(&path).await.0, 99);
}
