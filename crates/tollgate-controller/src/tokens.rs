//! The API's tokens as the service uses them: an in-memory view that every request is checked
//! against (loaded at start, changed with each add and revoke, so that no request reads the
//! database for it), the admin token of `--admin-token-file`, and adding and revoking.
//!
//! Two rules keep the service from locking its operators out, or opening itself by accident:
//! the first token is an admin token, and the last admin token is not revoked. So once a token
//! exists, an admin token does, and the API never goes back to needing none.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tollgate_api::{NewToken, Role, TokenCreated, TokenView};
use tollgate_state::{Db, StateError};

use crate::config::Config;
use crate::controller::Controller;
use crate::error::ControllerError;
use crate::secret;

/// The token `--admin-token-file` holds.
pub const ADMIN: &str = "admin";
/// A name is part of a route's path, and of log lines.
const NAME_MAX: usize = 64;
/// The shortest secret an admin token file may hold; a made one has 67 characters.
const SECRET_MIN: usize = 32;

/// What a request's secret is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Known {
    pub name: String,
    pub role: Role,
    pub revoked: bool,
}

#[derive(Default)]
struct View {
    /// By the hash of the secret; revoked tokens too, so that a request can be told why it
    /// is refused.
    by_hash: HashMap<String, Known>,
    /// Tokens not revoked: with none, the API asks for none.
    active: usize,
}

pub(crate) struct Tokens {
    view: RwLock<View>,
    /// One add or revoke at a time, so that the two rules hold between the check and the
    /// write.
    writes: tokio::sync::Mutex<()>,
}

impl Tokens {
    async fn load(db: &Db) -> Result<Tokens, StateError> {
        let mut view = View::default();
        for token in db.tokens().await? {
            let TokenView { name, role, revoked_at, .. } = token.view;
            view.insert(token.hash, Known { name, role, revoked: revoked_at.is_some() });
        }
        Ok(Tokens { view: RwLock::new(view), writes: tokio::sync::Mutex::new(()) })
    }

    pub(crate) fn find(&self, hash: &str) -> Option<Known> {
        read_view(&self.view).by_hash.get(hash).cloned()
    }

    /// Whether the token `name` exists and is not revoked.
    pub(crate) fn is_active(&self, name: &str) -> bool {
        read_view(&self.view).by_hash.values().any(|known| known.name == name && !known.revoked)
    }

    /// Whether the API asks for tokens: some token has not been revoked.
    pub(crate) fn configured(&self) -> bool {
        read_view(&self.view).active > 0
    }
}

impl View {
    fn insert(&mut self, hash: String, known: Known) {
        self.active += usize::from(!known.revoked);
        self.by_hash.insert(hash, known);
    }

    fn revoke(&mut self, name: &str) {
        for known in self.by_hash.values_mut() {
            if known.name == name && !known.revoked {
                known.revoked = true;
                self.active -= 1;
            }
        }
    }

    fn is_last_admin(&self, name: &str) -> bool {
        let admins = || self.by_hash.values().filter(|k| k.role == Role::Admin && !k.revoked);
        admins().any(|k| k.name == name) && admins().all(|k| k.name == name)
    }
}

fn read_view(view: &RwLock<View>) -> RwLockReadGuard<'_, View> {
    view.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_view(view: &RwLock<View>) -> RwLockWriteGuard<'_, View> {
    view.write().unwrap_or_else(PoisonError::into_inner)
}

/// The tokens at start: the admin token of the configuration's file made or checked first.
/// Listening where others can reach the API without any token is allowed, with a warning.
pub(crate) async fn open(db: &Db, config: &Config) -> Result<Tokens, ControllerError> {
    if let Some(file) = &config.admin_token_file {
        admin_from_file(db, file).await?;
    }
    let tokens = Tokens::load(db).await?;
    if !config.listen.ip().is_loopback() && !tokens.configured() {
        tracing::warn!(
            listen = %config.listen,
            "the API has no token: anyone who can reach this address can stage, cancel and \
             change projects; give `serve --admin-token-file FILE` (or `admin_token_file`) \
             and hand out tokens with `tollgate token add`, or listen on 127.0.0.1 behind a \
             reverse proxy"
        );
    }
    Ok(tokens)
}

/// Makes sure the token `admin` has the secret in `path`: the file's secret is added as it
/// when there is none yet, and a file that does not exist is made with a new secret. A file
/// that names another secret than the `admin` token's stops the service, since its operator
/// would be locked out.
async fn admin_from_file(db: &Db, path: &Path) -> Result<(), ControllerError> {
    let shown = path.display();
    let secret = match secret::read_file(path) {
        Ok(secret) => secret,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return new_admin_file(db, path).await;
        }
        Err(error) => {
            return Err(ControllerError::BadRequest(format!(
                "the admin token file {shown}: {error}"
            )));
        }
    };
    let refused =
        |why: String| ControllerError::BadRequest(format!("the admin token file {shown}: {why}"));
    // The hash is unsalted: only a long secret is safe from guessing.
    if secret.len() < SECRET_MIN {
        return Err(refused(format!(
            "{} characters are too few for a secret (at least {SECRET_MIN}); remove the file and \
             one is made",
            secret.len()
        )));
    }
    match db.token_by_hash(&secret::hash(&secret)).await? {
        Some((name, Role::Admin, false)) if name == ADMIN => Ok(()),
        Some((name, _, true)) if name == ADMIN => Err(refused(format!(
            "the token `{ADMIN}` was revoked; start without this file and use another admin token"
        ))),
        Some((name, role, _)) => Err(refused(format!(
            "its secret is the token `{name}`'s (role {role}), not `{ADMIN}`'s"
        ))),
        None => match db.add_token(ADMIN, Role::Admin, &secret::hash(&secret)).await {
            Ok(()) => {
                tracing::info!(file = %shown, "added the admin token of the file");
                Ok(())
            }
            Err(StateError::Conflict(_)) => Err(refused(format!(
                "the token `{ADMIN}` of this data directory has another secret than this file"
            ))),
            Err(other) => Err(other.into()),
        },
    }
}

async fn new_admin_file(db: &Db, path: &Path) -> Result<(), ControllerError> {
    let shown = path.display();
    if db.tokens().await?.iter().any(|token| token.view.name == ADMIN) {
        return Err(ControllerError::BadRequest(format!(
            "the admin token file {shown} does not exist, and this data directory has its token \
             `{ADMIN}` already: name the file its secret was written to"
        )));
    }
    let secret = secret::new()?;
    let written = secret::create_file(path).and_then(|mut file| {
        file.write_all(format!("{secret}\n").as_bytes())?;
        file.sync_all()
    });
    written.map_err(|error| {
        ControllerError::System(format!("cannot write the admin token file {shown}: {error}"))
    })?;
    db.add_token(ADMIN, Role::Admin, &secret::hash(&secret)).await?;
    tracing::info!(file = %shown, "made the admin token; its secret is in the file (mode 0600)");
    Ok(())
}

/// Letters, digits, `.`, `_` and `-`, not starting with a dot: a name goes into a path.
fn check_name(name: &str) -> Result<(), ControllerError> {
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > NAME_MAX || name.starts_with('.') || !name.chars().all(fits)
    {
        return Err(ControllerError::BadRequest(format!(
            "`{name}` is not a token name: up to {NAME_MAX} letters, digits, `.`, `_` and `-`"
        )));
    }
    Ok(())
}

impl Controller {
    /// Adds a token and answers its secret, which is not kept: this is the only time it is
    /// seen.
    pub async fn add_token(&self, new: &NewToken) -> Result<TokenCreated, ControllerError> {
        check_name(&new.name)?;
        let _one = self.tokens.writes.lock().await;
        if new.role != Role::Admin && !self.tokens.configured() {
            return Err(ControllerError::Conflict(
                "the first token must have role admin: once a token exists, only an admin token \
                 can add or revoke them (or start the service with --admin-token-file FILE)"
                    .to_owned(),
            ));
        }
        let secret = secret::new()?;
        let hash = secret::hash(&secret);
        self.db.add_token(&new.name, new.role, &hash).await?;
        let known = Known { name: new.name.clone(), role: new.role, revoked: false };
        write_view(&self.tokens.view).insert(hash, known);
        Ok(TokenCreated { name: new.name.clone(), role: new.role, secret })
    }

    /// Revokes a token at once: its next request is refused.
    pub async fn revoke_token(&self, name: &str) -> Result<TokenView, ControllerError> {
        let _one = self.tokens.writes.lock().await;
        if read_view(&self.tokens.view).is_last_admin(name) {
            return Err(ControllerError::Conflict(format!(
                "`{name}` is the last admin token: add another one first, or nobody could add \
                 or revoke tokens any more"
            )));
        }
        let revoked = self.db.revoke_token(name).await?;
        write_view(&self.tokens.view).revoke(name);
        Ok(revoked)
    }

    pub async fn tokens(&self) -> Result<Vec<TokenView>, ControllerError> {
        Ok(self.db.tokens().await?.into_iter().map(|token| token.view).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(tokens: &[(&str, Role, bool)]) -> View {
        let mut view = View::default();
        for (n, (name, role, revoked)) in tokens.iter().enumerate() {
            let known = Known { name: (*name).into(), role: *role, revoked: *revoked };
            view.insert(format!("hash-{n}"), known);
        }
        view
    }

    #[test]
    fn the_last_admin_token_not_revoked_is_the_last_admin() {
        let two = view(&[("a", Role::Admin, false), ("b", Role::Admin, false)]);
        assert!(!two.is_last_admin("a"));
        let one =
            view(&[("a", Role::Admin, false), ("b", Role::Admin, true), ("c", Role::Stage, false)]);
        assert!(one.is_last_admin("a"));
        assert!(!one.is_last_admin("c"));
        assert!(!one.is_last_admin("b"), "revoking it again changes nothing");
    }

    #[test]
    fn revoking_a_token_leaves_it_known_as_revoked_and_counts_it_out() {
        let mut tokens = view(&[("a", Role::Admin, false), ("ci", Role::Stage, false)]);
        assert_eq!(tokens.active, 2);
        tokens.revoke("ci");
        tokens.revoke("ci");
        assert_eq!(tokens.active, 1);
        assert!(tokens.by_hash["hash-1"].revoked);
    }

    #[test]
    fn names_fit_in_a_path() {
        for good in ["ci", "agent-01.lab", "Jane_Doe"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "..", ".hidden", "a/b", "a b", "ü", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
