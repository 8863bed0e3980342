//! `tollgate token add`, `revoke` and `list`: the API's tokens, managed with an admin token.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tollgate_api::{NewToken, Role, TokenCreated, TokenView, routes};
use tollgate_controller::secret;

use super::client::{self, ServerArgs};
use super::text::{age, now_ms, table};

#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Adds a token and prints its secret, once: the service keeps only its hash.
    Add(AddArgs),
    /// Revokes a token: the service refuses it from its next request on.
    Revoke(RevokeArgs),
    /// Lists the tokens: name, role, age, and whether each was revoked.
    List(ListArgs),
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// Letters, digits, `.`, `_` and `-`; never given again, even once revoked.
    pub name: String,
    /// agent (an agent's protocol), stage (stage, unstage, cancel), admin (everything), or read.
    /// Every role may read.
    #[arg(long)]
    pub role: Role,
    /// Writes the secret to FILE (a new file, readable by you only) instead of stdout; give it
    /// to clients with `--token-file FILE`.
    #[arg(long, value_name = "FILE", value_parser = super::paths::absolute)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RevokeArgs {
    pub name: String,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Prints the service's answer as JSON, as it came.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &TokenArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        match &args.command {
            TokenCommand::Add(add) => {
                // Made before the token, so that a secret is never shown to nobody.
                let file = match &add.out {
                    Some(path) => Some(secret::create_file(path).with_context(|| {
                        format!("cannot make {} for the secret", path.display())
                    })?),
                    None => None,
                };
                let new = NewToken { name: add.name.clone(), role: add.role };
                let created: TokenCreated = match client.post(routes::TOKENS, &new).await {
                    Ok(created) => created,
                    Err(error) => {
                        if let Some(path) = &add.out {
                            let _ = std::fs::remove_file(path);
                        }
                        return Err(error);
                    }
                };
                let added = format!("token `{}` (role {}) added", created.name, created.role);
                match (file, &add.out) {
                    (Some(mut file), Some(path)) => {
                        file.write_all(format!("{}\n", created.secret).as_bytes())
                            .and_then(|()| file.sync_all())
                            .with_context(|| {
                                format!("cannot write the secret to {}", path.display())
                            })?;
                        client::print(&format!("{added}; its secret is in {}\n", path.display()))?;
                    }
                    _ => {
                        eprintln!("{added}; its secret is shown this once:");
                        client::print(&format!("{}\n", created.secret))?;
                    }
                }
            }
            TokenCommand::Revoke(revoke) => {
                let revoked: TokenView =
                    client.post_empty(&routes::revoke_token(&revoke.name)).await?;
                client::print(&format!("token `{}` revoked\n", revoked.name))?;
            }
            TokenCommand::List(list) if list.json => {
                client::print_json(&client.get_raw(routes::TOKENS, &[]).await?)?;
            }
            TokenCommand::List(_) => {
                let tokens: Vec<TokenView> = client.get(routes::TOKENS, &[]).await?;
                client::print(&render_tokens(&tokens, now_ms()))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One row per token: name, role, when it was made, and whether it was revoked.
pub fn render_tokens(tokens: &[TokenView], now: i64) -> String {
    if tokens.is_empty() {
        let hint = "add an admin token with `tollgate token add NAME --role admin`";
        return format!("no tokens: the API asks for none ({hint})\n");
    }
    let mut rows = vec![["TOKEN", "ROLE", "CREATED", "REVOKED"].map(String::from).to_vec()];
    for token in tokens {
        rows.push(vec![
            token.name.clone(),
            token.role.to_string(),
            age(token.created_at, now),
            token.revoked_at.map_or_else(|| "-".to_owned(), |at| age(at, now)),
        ]);
    }
    table(&rows, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_a_table_and_none_says_the_api_is_open() {
        let token = |name: &str, role, revoked_at| TokenView {
            name: name.into(),
            role,
            created_at: 0,
            revoked_at,
        };
        let tokens = [token("admin", Role::Admin, None), token("ci", Role::Stage, Some(120_000))];
        assert_eq!(
            render_tokens(&tokens, 180_000),
            "\
TOKEN  ROLE   CREATED    REVOKED
admin  admin  3 min ago  -
ci     stage  3 min ago  1 min ago
"
        );
        assert!(render_tokens(&[], 0).starts_with("no tokens: the API asks for none"));
    }
}
