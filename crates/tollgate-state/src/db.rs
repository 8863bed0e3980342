//! Opening the database: the file, its pragmas, its schema.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, SqlitePool};
use tokio::sync::watch;

use crate::StateError;

const SCHEMA: &str = include_str!("schema.sql");
/// `PRAGMA user_version` of the schema above.
const VERSION: i64 = 8;
/// `MIGRATIONS[n]` takes a database of version `n + 1` to `n + 2`; the last one ends at
/// `VERSION`. A new database gets `SCHEMA` at once.
const MIGRATIONS: [&str; VERSION as usize - 1] = [
    include_str!("migrations/2.sql"),
    include_str!("migrations/3.sql"),
    include_str!("migrations/4.sql"),
    include_str!("migrations/5.sql"),
    include_str!("migrations/6.sql"),
    include_str!("migrations/7.sql"),
    include_str!("migrations/8.sql"),
];

/// The state database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    /// Reads, several at once.
    pub(crate) pool: SqlitePool,
    /// Writes, one at a time: SQLite has one writer, and a second connection that read before
    /// it writes would fail with "database is locked" instead of waiting.
    pub(crate) writer: SqlitePool,
    /// Counts the writes committed: followers of the decision log wait on it, not on a timer.
    written: Arc<watch::Sender<u64>>,
}

impl Db {
    /// Opens (or creates) the database at `path`. WAL lets the API read while the controller
    /// writes; `synchronous = NORMAL` in WAL survives a killed process (a commit is in the
    /// log before it returns) and loses at most the last commits on a power failure, never
    /// consistency. One connection writes at a time, with a busy timeout rather than errors.
    pub async fn open(path: &Path) -> Result<Db, StateError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer =
            SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&writer).await?;
        let steps = match version {
            VERSION => None,
            0 => Some(SCHEMA.to_owned()),
            1..VERSION => Some(MIGRATIONS[version as usize - 1..].join("\n")),
            found => {
                return Err(StateError::TooNew { path: path.to_owned(), found, known: VERSION });
            }
        };
        if let Some(steps) = steps {
            // One transaction: a migration that fails halfway leaves the old version as it was.
            let mut tx = writer.begin().await?;
            // The steps are this file's own SQL, and the version a number.
            let version = format!("PRAGMA user_version = {VERSION}");
            sqlx::raw_sql(AssertSqlSafe(format!("{steps}\n{version}"))).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.create_if_missing(false))
            .await?;
        Ok(Db { pool, writer, written: Arc::new(watch::channel(0).0) })
    }

    /// Changes after every write this `Db` commits (and wakes its receivers): a follower of
    /// the decision log reads after each change, so it waits for no timer and polls nothing.
    pub fn writes(&self) -> watch::Receiver<u64> {
        self.written.subscribe()
    }

    /// Commits `tx` and tells the followers.
    pub(crate) async fn commit(
        &self,
        tx: sqlx::Transaction<'_, sqlx::Sqlite>,
    ) -> Result<(), StateError> {
        tx.commit().await?;
        self.wrote();
        Ok(())
    }

    /// Tells the followers of a write committed without a transaction.
    pub(crate) fn wrote(&self) {
        self.written.send_modify(|count| *count += 1);
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
