//! `tollgate log`: a work item's log, written to stdout as it arrives, so that `--follow`
//! shows it growing until the service ends the answer.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use tollgate_api::routes;

use super::client::{self, ServerArgs};

#[derive(clap::Args, Debug)]
pub struct LogArgs {
    /// The work item: `demo/greeter:debian-12:Build`.
    pub work_item: String,
    /// The integration whose run of the work item to show [default: the newest one that has
    /// it].
    #[arg(long, value_name = "ID")]
    pub integration: Option<i64>,
    /// Keeps printing while the log grows, until the work item ends.
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(args: &LogArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        let mut query = vec![("item", args.work_item.clone())];
        query.extend(args.integration.map(|id| ("integration", id.to_string())));
        if args.follow {
            query.push(("follow", "true".to_owned()));
        }
        let mut answer = client.stream(routes::LOG, &query).await?;
        let mut stdout = io::stdout().lock();
        while let Some(chunk) = answer.chunk().await.map_err(|e| client.broken(e))? {
            match stdout.write_all(&chunk).and_then(|()| stdout.flush()) {
                // `tollgate log … | head`: the reader has seen enough.
                Err(error) if error.kind() == io::ErrorKind::BrokenPipe => break,
                written => written.context("cannot write the log to stdout")?,
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
