//! `tollgate stage`: stages changes for a branch, and with `--wait` follows them until each is
//! merged or rejected.

use std::process::ExitCode;

use tollgate_api::{ChangeState, StageRequest, StageResponse, routes};

use super::client::{self, ServerArgs};
use super::progress::Progress;
use super::rejection::render_outcome;
use super::text::change_line;
use super::wait;

#[derive(clap::Args, Debug)]
pub struct StageArgs {
    /// The project, by name: `demo/greeter`.
    pub project: String,
    /// The gated branch the changes are for.
    pub branch: String,
    /// Commits or refs of the project's remote: a sha, `refs/...`, a branch name. Staged in
    /// this order.
    #[arg(required = true)]
    pub changes: Vec<String>,
    /// Waits until every change is merged, rejected or unstaged, showing the integrations'
    /// progress on stderr. Exits 0 when all were merged, 1 otherwise.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(args: &StageArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        let request = StageRequest {
            project: args.project.clone(),
            branch: args.branch.clone(),
            changes: args.changes.clone(),
        };
        let staged: StageResponse = client.post(routes::STAGE, &request).await?;
        let mut out = String::new();
        for change in &staged.changes {
            out.push_str(&change_line(change));
            out.push('\n');
        }
        client::print(&out)?;
        if !args.wait {
            return Ok(ExitCode::SUCCESS);
        }
        let mut progress = Progress::for_stderr();
        let ended = wait::until_final(client, staged.changes, &mut progress).await?;
        let mut out = String::from("\n");
        for change in &ended {
            out.push_str(&render_outcome(change, |path| client.link(path)));
        }
        client::print(&out)?;
        let all_merged = ended.iter().all(|c| c.state == ChangeState::Merged);
        Ok(if all_merged { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}
