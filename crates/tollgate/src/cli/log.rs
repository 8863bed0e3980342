//! `tollgate log`: a work item's log, written to stdout as it arrives. `--follow` reads the
//! log's server-sent events: each line as soon as it is written, until the work item ends.

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
        let mut stdout = io::stdout().lock();
        if args.follow {
            let mut events = client.events(routes::LOG_STREAM, &query).await?;
            while let Some(event) = events.next().await? {
                if event.event == "end" {
                    break;
                }
                if !write(&mut stdout, format!("{}\n", event.data).as_bytes())? {
                    break;
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        let mut answer = client.stream(routes::LOG, &query).await?;
        while let Some(chunk) = answer.chunk().await.map_err(|e| client.broken(e))? {
            if !write(&mut stdout, &chunk)? {
                break;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Writes to stdout; `false` once its reader has gone (`tollgate log … | head` has seen
/// enough).
fn write(stdout: &mut impl Write, bytes: &[u8]) -> anyhow::Result<bool> {
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        written => written.context("cannot write the log to stdout").map(|()| true),
    }
}
