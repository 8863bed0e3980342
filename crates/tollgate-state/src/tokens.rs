//! The API's tokens: a name, a role and the hash of the secret, never the secret itself.
//!
//! Not in the decision log: its entries belong to a branch, and a token belongs to none. The
//! table stays small (a token per person, job or agent), so it is read whole where a list is
//! asked for.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tollgate_api::{Role, TokenView};

use crate::{Db, StateError, now_ms, text};

/// A token as the state keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    pub view: TokenView,
    /// The hash of the secret, as the controller computed it.
    pub hash: String,
}

/// Found through the hash's UNIQUE index.
pub(crate) const BY_HASH: &str = "SELECT name, role, revoked_at FROM tokens WHERE hash = ?";
/// Any token that has not been revoked.
pub(crate) const ANY_ACTIVE: &str = "SELECT EXISTS (SELECT 1 FROM tokens WHERE revoked_at IS NULL)";

impl Db {
    /// Adds a token. A name already used, even by a revoked token, is refused: a name in an
    /// old log line or a script must never come to mean another token.
    pub async fn add_token(&self, name: &str, role: Role, hash: &str) -> Result<(), StateError> {
        let mut tx = self.writer.begin().await?;
        let taken: Option<Option<i64>> =
            sqlx::query_scalar("SELECT revoked_at FROM tokens WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        match taken {
            Some(Some(_)) => {
                return Err(StateError::Conflict(format!(
                    "a token named `{name}` was revoked; a name is not given again, choose another"
                )));
            }
            Some(None) => {
                return Err(StateError::Conflict(format!("a token named `{name}` exists already")));
            }
            None => {}
        }
        let used = sqlx::query(BY_HASH).bind(hash).fetch_optional(&mut *tx).await?;
        if let Some(other) = used {
            let other: String = other.try_get("name")?;
            return Err(StateError::Conflict(format!(
                "that secret is already the token `{other}`'s"
            )));
        }
        sqlx::query("INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)")
            .bind(name)
            .bind(text::name(&role))
            .bind(hash)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Revokes a token for good. Revoking it again changes nothing.
    pub async fn revoke_token(&self, name: &str) -> Result<TokenView, StateError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "SELECT name, role, hash, created_at, revoked_at FROM tokens WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let token = row.map(|row| stored_token(&row)).transpose()?;
        self.commit(tx).await?;
        token
            .map(|token| token.view)
            .ok_or_else(|| StateError::NotFound(format!("no token `{name}`")))
    }

    /// Every token, revoked ones too, by name.
    pub async fn tokens(&self) -> Result<Vec<StoredToken>, StateError> {
        let rows = sqlx::query(
            "SELECT name, role, hash, created_at, revoked_at FROM tokens ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_token).collect()
    }

    /// The token whose secret has this hash: its name, its role, and whether it was revoked.
    pub async fn token_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<(String, Role, bool)>, StateError> {
        let row = sqlx::query(BY_HASH).bind(hash).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let role: String = row.try_get("role")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        Ok(Some((row.try_get("name")?, text::parse(&role)?, revoked_at.is_some())))
    }

    /// Whether any token has not been revoked: without one, the API asks for none.
    pub async fn has_tokens(&self) -> Result<bool, StateError> {
        Ok(sqlx::query_scalar(ANY_ACTIVE).fetch_one(&self.pool).await?)
    }
}

fn stored_token(row: &SqliteRow) -> Result<StoredToken, StateError> {
    let role: String = row.try_get("role")?;
    Ok(StoredToken {
        view: TokenView {
            name: row.try_get("name")?,
            role: text::parse(&role)?,
            created_at: row.try_get("created_at")?,
            revoked_at: row.try_get("revoked_at")?,
        },
        hash: row.try_get("hash")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (tempfile::TempDir, Db) {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("state.sqlite")).await.unwrap();
        (tmp, db)
    }

    #[tokio::test]
    async fn a_token_is_found_by_its_hash_until_and_after_it_is_revoked() {
        let (_tmp, db) = db().await;
        assert!(!db.has_tokens().await.unwrap());
        db.add_token("ci", Role::Stage, "hash-ci").await.unwrap();
        assert!(db.has_tokens().await.unwrap());
        assert_eq!(
            db.token_by_hash("hash-ci").await.unwrap(),
            Some(("ci".to_owned(), Role::Stage, false))
        );
        assert_eq!(db.token_by_hash("hash-other").await.unwrap(), None);
        let revoked = db.revoke_token("ci").await.unwrap();
        assert!(revoked.revoked_at.is_some());
        assert_eq!(db.revoke_token("ci").await.unwrap(), revoked, "revoking again changes nothing");
        assert_eq!(
            db.token_by_hash("hash-ci").await.unwrap(),
            Some(("ci".to_owned(), Role::Stage, true))
        );
        assert!(!db.has_tokens().await.unwrap());
        let listed = db.tokens().await.unwrap();
        assert_eq!(listed, [StoredToken { view: revoked, hash: "hash-ci".into() }]);
    }

    #[tokio::test]
    async fn a_name_is_never_given_twice_nor_a_secret_and_an_unknown_name_is_not_found() {
        let (_tmp, db) = db().await;
        db.add_token("ci", Role::Stage, "hash-1").await.unwrap();
        let again = db.add_token("ci", Role::Read, "hash-2").await.unwrap_err();
        assert!(
            matches!(&again, StateError::Conflict(m) if m.contains("exists already")),
            "{again}"
        );
        let same_secret = db.add_token("bot", Role::Read, "hash-1").await.unwrap_err();
        assert!(
            matches!(&same_secret, StateError::Conflict(m) if m.contains("`ci`")),
            "{same_secret}"
        );
        db.revoke_token("ci").await.unwrap();
        let revoked = db.add_token("ci", Role::Stage, "hash-3").await.unwrap_err();
        assert!(
            matches!(&revoked, StateError::Conflict(m) if m.contains("was revoked")),
            "{revoked}"
        );
        let unknown = db.revoke_token("nobody").await.unwrap_err();
        assert!(
            matches!(&unknown, StateError::NotFound(m) if m == "no token `nobody`"),
            "{unknown}"
        );
    }
}
