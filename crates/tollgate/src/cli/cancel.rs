//! `tollgate cancel`: stops an integration; its changes go back to staged.

use std::process::ExitCode;

use tollgate_api::{IntegrationView, routes};

use super::client::{self, ServerArgs};

#[derive(clap::Args, Debug)]
pub struct CancelArgs {
    /// The integration's id, as `tollgate status` shows it.
    pub integration: i64,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(args: &CancelArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        let view: IntegrationView = client.post_empty(&routes::cancel(args.integration)).await?;
        client::print(&format!("integration {}: {}\n", view.id, view.state.as_str()))?;
        Ok(ExitCode::SUCCESS)
    })
}
