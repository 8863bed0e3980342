//! API tokens: what each role may do, and the answers of the token routes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a token may do. Reading needs `read` only where the service asks for it; every role
/// may read, so that a role never has to be paired with a `read` token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An agent: its own protocol (`/api/agent/...`), and reads.
    Agent,
    /// A developer or a CI job: staging, unstaging, cancelling, and reads.
    Stage,
    /// Everything: projects, tokens and agents too.
    Admin,
    /// Reads only.
    Read,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Agent, Role::Stage, Role::Admin, Role::Read];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Stage => "stage",
            Role::Admin => "admin",
            Role::Read => "read",
        }
    }

    /// Whether a token of this role may use a route that needs `needed`: admin may do
    /// anything, every role may read, and otherwise a role allows only itself (a stage token
    /// cannot take an agent's work, an agent cannot stage).
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || needed == Role::Read || self == needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Role, String> {
        Role::ALL.into_iter().find(|role| role.as_str() == text).ok_or_else(|| {
            format!("`{text}` is not a role (expected one of agent, stage, admin, read)")
        })
    }
}

/// A token as `GET /api/tokens` lists it; never its secret, which is not kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    /// When it was revoked; a revoked token's name is not given again.
    pub revoked_at: Option<i64>,
}

/// `POST /api/tokens`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// Letters, digits, `.`, `_` and `-`: it is part of the revoke route's path.
    pub name: String,
    pub role: Role,
}

/// The answer to `POST /api/tokens`: the only time the secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreated {
    pub name: String,
    pub role: Role,
    /// What a client sends as `Authorization: Bearer SECRET`.
    pub secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_everything_every_role_reads_and_the_others_only_themselves() {
        let allowed = |role: Role| -> Vec<Role> {
            Role::ALL.into_iter().filter(|needed| role.allows(*needed)).collect()
        };
        assert_eq!(allowed(Role::Admin), Role::ALL);
        assert_eq!(allowed(Role::Stage), [Role::Stage, Role::Read]);
        assert_eq!(allowed(Role::Agent), [Role::Agent, Role::Read]);
        assert_eq!(allowed(Role::Read), [Role::Read]);
    }

    #[test]
    fn roles_read_and_write_as_their_lowercase_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert!("Admin".parse::<Role>().unwrap_err().contains("agent, stage, admin, read"));
    }
}
