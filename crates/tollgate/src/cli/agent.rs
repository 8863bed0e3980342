//! `tollgate agent`: runs work items for a controller on this machine; `tollgate agent drain
//! NAME` asks one to finish what it runs and stop; `tollgate agents` lists them.
//!
//! SIGTERM or Ctrl-C drains the agent (it exits 0 once what runs has reported); a second one
//! stops it at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use tollgate_agent::{AgentError, AgentOptions, Stop};
use tollgate_api::{AgentView, routes};

use super::client::{self, ServerArgs};
use super::text::{age, now_ms, table};
use super::{EXIT_SYSTEM, EXIT_USAGE};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum AgentCommand {
    /// Asks an agent to finish what it runs, take nothing new, and exit (with an admin token).
    Drain {
        /// The agent's name, as `tollgate agents` lists it.
        name: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The agent's name [default: this machine's host name]; one agent per name.
    #[arg(long)]
    pub name: Option<String>,
    /// A Coin `Template` this machine serves (`qtci-linux-Ubuntu-22.04-x86_64-51`); may be
    /// repeated. `*` serves every template.
    #[arg(long = "template", value_name = "TEMPLATE")]
    pub templates: Vec<String>,
    /// A label the configuration's `sched_rules` can ask for, as `key=value`; may be repeated.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = label)]
    pub labels: Vec<(String, String)>,
    /// Work items at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub slots: u32,
    /// Where the sources, the local store and the logs live [default:
    /// $XDG_DATA_HOME/tollgate-agent or ~/.local/share/tollgate-agent].
    #[arg(long, value_name = "DIR", value_parser = super::paths::absolute)]
    pub data_dir: Option<PathBuf>,
    /// Where workspaces are made [default: DATA_DIR/work].
    #[arg(long, value_name = "DIR", value_parser = super::paths::absolute)]
    pub work_dir: Option<PathBuf>,
    /// A host folder every work item may write (a compiler cache); may be repeated.
    #[arg(long, value_name = "DIR", value_parser = super::paths::absolute)]
    pub writable: Vec<PathBuf>,
    /// Runs work items without the bubblewrap sandbox, with this user's rights.
    #[arg(long)]
    pub no_sandbox: bool,
}

fn label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

pub fn run(args: &AgentArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(AgentCommand::Drain { name }) => client::run(&args.server, async |client| {
            let agent: AgentView = client.post_empty(&routes::drain_agent(name)).await?;
            client::print(&format!(
                "agent {} drains: {} running\n",
                agent.info.name,
                agent.running.len()
            ))?;
            Ok(ExitCode::SUCCESS)
        }),
        None => serve(args),
    }
}

fn serve(args: &AgentArgs) -> anyhow::Result<ExitCode> {
    super::serve::init_logging();
    let run = &args.run;
    let name = match &run.name {
        Some(name) => name.clone(),
        None => tollgate_agent::host::hostname().context("no host name; pass --name")?,
    };
    if run.slots == 0 {
        bail!("--slots: an agent needs at least one slot");
    }
    let data_dir = match &run.data_dir {
        Some(dir) => dir.clone(),
        None => default_data_dir()?,
    };
    let options = AgentOptions {
        server: args.server.server.clone(),
        token: args.server.token()?,
        name,
        templates: run.templates.clone(),
        labels: run.labels.iter().cloned().collect::<BTreeMap<_, _>>(),
        slots: run.slots,
        data_dir,
        work_dir: run.work_dir.clone(),
        writable: run.writable.clone(),
        sandbox: !run.no_sandbox,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let stop = Stop::default();
        tokio::spawn(signals(stop.clone()));
        match tollgate_agent::run(options, stop).await {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(error @ AgentError::Unauthorized(_)) => {
                eprintln!("tollgate: {error}");
                Ok(ExitCode::from(EXIT_USAGE))
            }
            Err(error) => {
                eprintln!("tollgate: cannot run the agent: {error}");
                Ok(ExitCode::from(EXIT_SYSTEM))
            }
        }
    })
}

/// The first SIGTERM or SIGINT drains, the next halts.
async fn signals(stop: Stop) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut interrupt)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        return;
    };
    for token in [&stop.drain, &stop.halt] {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        token.cancel();
    }
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    let tollgate = super::run_item::default_data_dir()?;
    Ok(tollgate.with_file_name("tollgate-agent"))
}

#[derive(clap::Args, Debug)]
pub struct AgentsArgs {
    /// Prints the service's answer as JSON, as it came.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `tollgate agents`.
pub fn list(args: &AgentsArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        if args.json {
            client::print_json(&client.get_raw(routes::AGENTS, &[]).await?)?;
        } else {
            let agents: Vec<AgentView> = client.get(routes::AGENTS, &[]).await?;
            client::print(&render_agents(&agents, now_ms()))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One row per agent: name, what it is, its templates, state, work, last heartbeat.
pub fn render_agents(agents: &[AgentView], now: i64) -> String {
    if agents.is_empty() {
        return "no agents: start one with `tollgate agent --server URL --token-file FILE`\n"
            .to_owned();
    }
    let header = ["AGENT", "OS/ARCH", "TEMPLATES", "LABELS", "STATE", "SLOTS", "RUNNING", "SEEN"];
    let mut rows = vec![header.map(String::from).to_vec()];
    for agent in agents {
        let info = &agent.info;
        let labels: Vec<String> = info.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let dash = |text: String| if text.is_empty() { "-".to_owned() } else { text };
        rows.push(vec![
            info.name.clone(),
            format!("{}/{}", info.os, info.arch),
            dash(info.templates.join(",")),
            dash(labels.join(",")),
            agent.state.clone(),
            format!("{}/{}", agent.slots_busy, info.slots),
            dash(agent.running.join(" ")),
            age(agent.last_seen, now),
        ]);
    }
    table(&rows, "")
}

#[cfg(test)]
mod tests {
    use tollgate_api::AgentInfo;

    use super::*;

    #[test]
    fn agents_are_a_table_with_their_state_and_work() {
        let agent = |name: &str, state: &str, running: Vec<String>| AgentView {
            info: AgentInfo {
                name: name.into(),
                os: "linux".into(),
                arch: "x86_64".into(),
                slots: 2,
                templates: vec!["debian-12".into()],
                labels: [("gpu".to_owned(), "yes".to_owned())].into(),
                ..AgentInfo::default()
            },
            state: state.into(),
            slots_busy: running.len() as u32,
            running,
            first_seen: 0,
            last_seen: 170_000,
        };
        let agents = [
            agent("build-1", "busy", vec!["4/demo/app:debian-12:Build".into()]),
            agent("build-2", "lost", vec![]),
        ];
        assert_eq!(
            render_agents(&agents, 180_000),
            "\
AGENT    OS/ARCH       TEMPLATES  LABELS   STATE  SLOTS  RUNNING                     SEEN
build-1  linux/x86_64  debian-12  gpu=yes  busy   1/2    4/demo/app:debian-12:Build  10 s ago
build-2  linux/x86_64  debian-12  gpu=yes  lost   0/2    -                           10 s ago
"
        );
        assert!(render_agents(&[], 0).starts_with("no agents"));
    }
}
