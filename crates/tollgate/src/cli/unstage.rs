//! `tollgate unstage`: takes a change back before it is merged.

use std::process::ExitCode;

use tollgate_api::{ChangeView, UnstageRequest, routes};

use super::client::{self, ServerArgs};
use super::text::change_line;

#[derive(clap::Args, Debug)]
pub struct UnstageArgs {
    /// The project, by name: `demo/greeter`.
    pub project: String,
    /// The branch the change was staged for.
    pub branch: String,
    /// The change: its commit (a unique prefix is enough) or its id.
    pub change: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(args: &UnstageArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        let request = UnstageRequest {
            project: args.project.clone(),
            branch: args.branch.clone(),
            change: args.change.clone(),
        };
        let change: ChangeView = client.post(routes::UNSTAGE, &request).await?;
        client::print(&(change_line(&change) + "\n"))?;
        Ok(ExitCode::SUCCESS)
    })
}
