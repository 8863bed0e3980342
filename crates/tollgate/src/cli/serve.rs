//! `tollgate serve`: the service, on embedded defaults (SQLite and a local store under the
//! data directory, the local hypervisor, the API on 127.0.0.1:8080), or a TOML file.
//!
//! Logs go to stderr, one line per event with key=value fields; under systemd (where
//! `JOURNAL_STREAM` is set) without the time and colours, which the journal adds itself.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tollgate_controller::{Config, ControllerError, Service};

use super::run_item::default_data_dir;
use super::{EXIT_SYSTEM, EXIT_USAGE, demo};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A TOML file: listen, data_dir, slots, poll_interval, sandbox, [[project]]...
    #[arg(long, value_name = "FILE", value_parser = super::paths::absolute)]
    pub config: Option<PathBuf>,
    /// Where the state, the store, the mirrors and the logs live [default: $XDG_DATA_HOME/tollgate
    /// or ~/.local/share/tollgate].
    #[arg(long, value_name = "DIR", value_parser = super::paths::absolute)]
    pub data_dir: Option<PathBuf>,
    /// Where the HTTP API listens.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Work items at once on this machine [default: the number of cores]; 0 when only agents
    /// (`tollgate agent`) run them.
    #[arg(long, value_name = "N", alias = "slots")]
    pub local_slots: Option<u32>,
    /// How often remotes are fetched for staging refs, e.g. `10s`.
    #[arg(long, value_name = "DURATION")]
    pub poll_interval: Option<String>,
    /// Where workspaces are made [default: DATA_DIR/work]; a tmpfs makes small work items faster.
    #[arg(long, value_name = "DIR", value_parser = super::paths::absolute)]
    pub work_dir: Option<PathBuf>,
    /// Runs work items without the bubblewrap sandbox, with this user's rights.
    #[arg(long)]
    pub no_sandbox: bool,
    /// The secret of the token `admin`: added when the service has none, or, when FILE does
    /// not exist, made anew and written there (readable by this user only).
    #[arg(long, value_name = "FILE", value_parser = super::paths::absolute)]
    pub admin_token_file: Option<PathBuf>,
    /// Serves everything under this path, behind a reverse proxy at `https://host/PATH/`;
    /// clients then use `--server https://host/PATH`.
    #[arg(long, value_name = "PATH")]
    pub base_path: Option<String>,
    /// Makes two example repositories (the C project of examples/sources), gates one, stages a
    /// change, and shows where to look. Its data directory is DATA_DIR/demo.
    #[arg(long)]
    pub demo: bool,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => default_data_dir()?,
    };
    let mut config = match &args.config {
        Some(path) => Config::read(path, data_dir.clone()).map_err(anyhow::Error::msg)?,
        None => Config::new(data_dir.clone()),
    };
    if args.data_dir.is_some() {
        config.data_dir = data_dir;
    }
    if args.demo {
        config.data_dir = config.data_dir.join("demo");
        config.poll_interval = Duration::from_secs(1);
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(slots) = args.local_slots {
        config.local_slots = slots;
    }
    if let Some(interval) = &args.poll_interval {
        config.poll_interval = tollgate_controller::config::parse_duration_text(interval)
            .with_context(|| format!("--poll-interval `{interval}` is not a duration (`10s`)"))?;
    }
    if let Some(work_dir) = &args.work_dir {
        config.work_dir = Some(work_dir.clone());
    }
    if args.no_sandbox {
        config.sandbox = false;
    }
    if let Some(base) = &args.base_path {
        config.base_path =
            tollgate_controller::config::base_path(base).map_err(anyhow::Error::msg)?;
    }
    if let Some(file) = &args.admin_token_file {
        config.admin_token_file = Some(file.clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(config, args.demo))
}

async fn serve(mut config: Config, demo: bool) -> anyhow::Result<ExitCode> {
    let demo = match demo {
        true => {
            // The first command a new user runs sets up what it needs.
            let needs: Vec<_> = super::setup::DEMO
                .into_iter()
                .filter(|(program, _)| config.sandbox || *program != "bwrap")
                .collect();
            tokio::task::spawn_blocking(move || super::setup::ensure(&needs)).await??;
            Some(demo::prepare(&mut config)?)
        }
        false => None,
    };
    let service = match Service::start(config).await {
        Ok(service) => service,
        // Another service on the data directory, an admin token file that does not fit.
        Err(error @ (ControllerError::Conflict(_) | ControllerError::BadRequest(_))) => {
            eprintln!("tollgate: {error}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        Err(error) => {
            eprintln!("tollgate: cannot start: {error}");
            return Ok(ExitCode::from(EXIT_SYSTEM));
        }
    };
    if let Some(demo) = demo {
        demo.stage(&service).await?;
    }
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("stopping");
    service.stop().await;
    Ok(ExitCode::SUCCESS)
}

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!journal && std::io::stderr().is_terminal())
        .with_target(false);
    let _ = match journal {
        true => builder.without_time().try_init(),
        false => builder.try_init(),
    };
}
