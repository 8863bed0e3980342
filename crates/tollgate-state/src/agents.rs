//! Agents that registered, kept across restarts for the operator's view.

use sqlx::Row;

use crate::{Db, StateError, now_ms};

/// An agent as the state remembers it: its info as it sent it (JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownAgent {
    pub name: String,
    pub info: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub draining: bool,
}

impl Db {
    /// An agent registered (again) with `token`: what it is now, and when.
    pub async fn agent_registered(
        &self,
        name: &str,
        info: &str,
        token: Option<&str>,
    ) -> Result<(), StateError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO agents (name, info, token, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET info = excluded.info, token = excluded.token,
             last_seen = excluded.last_seen, draining = 0",
        )
        .bind(name)
        .bind(info)
        .bind(token)
        .bind(now)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The agent was last heard from now; or it is asked to drain.
    pub async fn agent_seen(&self, name: &str, draining: bool) -> Result<(), StateError> {
        sqlx::query("UPDATE agents SET last_seen = ?, draining = ? WHERE name = ?")
            .bind(now_ms())
            .bind(draining)
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The token the agent `name` last registered with: `None` when it never registered.
    pub async fn agent_token(&self, name: &str) -> Result<Option<Option<String>>, StateError> {
        let row = sqlx::query("SELECT token FROM agents WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| row.try_get("token")).transpose().map_err(Into::into)
    }

    /// Every agent that ever registered: a machine pool, not history.
    pub async fn known_agents(&self) -> Result<Vec<KnownAgent>, StateError> {
        let rows = sqlx::query(
            "SELECT name, info, first_seen, last_seen, draining FROM agents ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(KnownAgent {
                    name: row.try_get("name")?,
                    info: row.try_get("info")?,
                    first_seen: row.try_get("first_seen")?,
                    last_seen: row.try_get("last_seen")?,
                    draining: row.try_get("draining")?,
                })
            })
            .collect()
    }
}
