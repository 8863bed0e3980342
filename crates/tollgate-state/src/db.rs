//! Opening the database: the file, its pragmas, its schema.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, SqlitePool};

use crate::StateError;

const SCHEMA: &str = include_str!("schema.sql");
/// `PRAGMA user_version` of the schema above (written by `open` as a literal too).
const VERSION: i64 = 1;

/// The state database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    /// Reads, several at once.
    pub(crate) pool: SqlitePool,
    /// Writes, one at a time: SQLite has one writer, and a second connection that read before
    /// it writes would fail with "database is locked" instead of waiting.
    pub(crate) writer: SqlitePool,
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
        match version {
            0 => {
                let mut tx = writer.begin().await?;
                tx.execute(SCHEMA).await?;
                tx.execute(concat!("PRAGMA user_version = ", 1)).await?;
                tx.commit().await?;
            }
            VERSION => {}
            found => {
                return Err(StateError::TooNew { path: path.to_owned(), found, known: VERSION });
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.create_if_missing(false))
            .await?;
        Ok(Db { pool, writer })
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
