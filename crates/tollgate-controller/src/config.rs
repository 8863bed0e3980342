//! The service's configuration: a TOML file, then flags over it.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! data_dir = "/var/lib/tollgate"
//! local_slots = 2           # work items at once on this machine; the number of cores by
//!                           # default, 0 when only agents run them (`slots` is the old name)
//! lease_term = "30s"        # an agent's lease lives this long without a heartbeat
//! unplaceable_timeout = "1h" # a work item no agent can run errors after this long
//! poll_interval = "10s"     # how often remotes are fetched for staging refs
//! sandbox = true
//! maintenance_every = 100   # finished integrations between two upkeeps of a mirror
//! flaky_reruns = 5          # a significant test that fails runs again this many times on
//!                           # fresh machines, and is forgiven only if every re-run passes
//! max_batch = 50            # the most changes one integration takes; a failed batch of
//!                           # several is bisected to find the change that fails
//! keep_rejected = 100       # a project's newest rejected integrations whose commits the
//!                           # mirror keeps, for `tollgate reproduce`
//! admin_token_file = "admin.token"  # the admin token's secret; made when missing
//! read_needs_token = false  # once tokens exist, reads need one too (role read or more)
//! base_path = "/tollgate"   # served under this path, behind a reverse proxy (none by default)
//! stall_factor = 3          # a queue with no verdict for this × the median integration
//! stall_floor = "10m"       # time (and never less than this) is a stalled branch
//!
//! [[sched_rules]]           # Coin's: configurations matched → labels their agent must have
//! match = { "target.os" = "MacOS|IOS" }
//! labels = { hw = "apple" }
//!
//! [[parallel_project_rules]] # Coin's: branches that run several integrations at once, each
//! project = "demo/.*"       # formed on the commit of the one ahead (regexes over the whole
//! branch = "main"           # names; both match anything when left out); the first rule
//! depth = 4                 # that matches decides; others run one at a time
//!
//! [[platform_classes]]      # configurations matched run only this close to the head
//! name = "scarce"
//! match = { "target.os" = "MacOS|Windows" }
//! depth = 1                 # the head integration only
//!
//! parallel_integration_delay = "30s" # the least time between two integrations' starts
//!
//! [accumulation]            # Coin's cherry-pick delay: changes whose author matches wait
//! author = "Cherry-pick Bot" # this long after staging, so that several go in one
//! delay = "10m"             # integration; `enabled = false` turns it off
//!
//! [[project]]
//! name = "demo/greeter"
//! url = "https://git.example.org/demo/greeter.git"
//! branches = ["main"]
//! product = "demo/products"   # optional
//! ```
//!
//! `flaky_reruns`, `max_batch`, `sched_rules`, `parallel_project_rules`, `platform_classes`,
//! `parallel_integration_delay` and `accumulation` are the runtime part ([`Runtime`]): read
//! again while the service runs (`reload.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tollgate_api::ProjectSpec;
use toml::Spanned;

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where workspaces are made; `DATA_DIR/work` by default.
    pub work_dir: Option<PathBuf>,
    /// Work items at once on this machine's own slots (the local agent); 0 for none, when
    /// only remote agents run work items.
    pub local_slots: u32,
    /// How long an agent's lease lives without a heartbeat before its work item runs again
    /// elsewhere.
    pub lease_term: Duration,
    /// How long a work item may wait while no connected agent can ever run it (no agent
    /// serves its template) before that is a system error.
    pub unplaceable_timeout: Duration,
    /// What may change while the service runs (see [`Runtime`]), as the file said at startup.
    pub runtime: Runtime,
    /// The file it was read from: read again when it changes, or on SIGHUP.
    pub file: Option<PathBuf>,
    pub poll_interval: Duration,
    pub sandbox: bool,
    /// Runs of a work item that ends in a system error, before the integration errors.
    pub attempts: u32,
    /// The wait before the first retry; it doubles with each one.
    pub retry_backoff: Duration,
    /// The global revision salt of every build key.
    pub salt: String,
    /// Host folders every work item may write (a compiler cache).
    pub writable: Vec<PathBuf>,
    /// The most bytes the tree cache (`DATA_DIR/trees`) may hold.
    pub tree_cache_size: u64,
    /// Finished integrations of a project between two upkeeps of its mirror (packed refs and
    /// objects, the commit-graph); it is also kept up hourly.
    pub maintenance_every: u32,
    /// How many of a project's newest rejected integrations keep their commits in the mirror
    /// (nothing else names them), so that `tollgate reproduce` can fetch them.
    pub keep_rejected: u32,
    /// The secret of the token `admin`: checked, or made with a new secret when the file does
    /// not exist.
    pub admin_token_file: Option<PathBuf>,
    /// Once tokens exist, reads need one too; otherwise only writes do.
    pub read_needs_token: bool,
    /// The path the service is served under (`/tollgate`, without a trailing slash), behind
    /// a reverse proxy; empty at the root.
    pub base_path: String,
    /// A branch whose queue has had no verdict for this many times its median integration
    /// time is stalled: reported in `/readyz`, `/metrics` and the log.
    pub stall_factor: u32,
    /// The least time without a verdict that is a stall: the limit when a branch has no
    /// history yet, and a floor under fast branches, whose median is seconds.
    pub stall_floor: Duration,
    pub projects: Vec<ProjectSpec>,
}

/// The part of the configuration that is read again while the service runs (Coin's
/// `coin_configuration.json`): when the file changes, or on SIGHUP. A file that does not read
/// keeps the runtime it replaced, and the error names its line.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// How many times a significant Test work item that failed runs again on fresh machines;
    /// its failure is forgiven (a flake) only if every re-run passes. Coin's rule; 0 turns it
    /// off.
    pub flaky_reruns: u32,
    /// The most changes one integration takes from a branch's queue (at least 1).
    pub max_batch: u32,
    /// Coin's `parallel_project_rules` and the depth of each platform class.
    pub speculation: tollgate_core::schedule::Speculation,
    /// Coin's `sched_rules`: configuration attributes matched by regex → labels an agent
    /// must have. Work items queued before a reload keep what they were queued with.
    pub sched_rules: Vec<tollgate_core::schedule::SchedRule>,
    /// The least time between the start of two integrations of a branch that speculates, so
    /// that a burst of changes does not start the whole depth at once.
    pub parallel_integration_delay: Duration,
    /// Coin's cherry-pick delay: changes whose author matches wait this long after staging,
    /// so that several accumulate into one integration.
    pub accumulation: Option<Accumulation>,
}

/// Changes of some authors (a bot's cherry-picks) wait a while after staging, so that they
/// accumulate; `enabled = false` turns it off without losing the setting.
#[derive(Clone, Debug)]
pub struct Accumulation {
    pub author: regex::Regex,
    pub delay: Duration,
    pub enabled: bool,
}

impl Default for Runtime {
    fn default() -> Runtime {
        Runtime {
            flaky_reruns: 5,
            max_batch: 50,
            speculation: Default::default(),
            sched_rules: Vec::new(),
            parallel_integration_delay: Duration::ZERO,
            accumulation: None,
        }
    }
}

impl Runtime {
    /// The author pattern whose changes still accumulate, if the delay is on.
    pub fn accumulating(&self) -> Option<(&regex::Regex, Duration)> {
        self.accumulation.as_ref().filter(|a| a.enabled).map(|a| (&a.author, a.delay))
    }
}

impl Config {
    /// Embedded defaults: loopback, the data directory given, one slot per core.
    pub fn new(data_dir: PathBuf) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir,
            work_dir: None,
            local_slots: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            lease_term: Duration::from_secs(30),
            unplaceable_timeout: Duration::from_secs(3600),
            runtime: Runtime::default(),
            file: None,
            poll_interval: Duration::from_secs(10),
            sandbox: true,
            attempts: 3,
            retry_backoff: Duration::from_secs(5),
            salt: tollgate_core::plan::DEFAULT_SALT.to_owned(),
            writable: Vec::new(),
            tree_cache_size: tollgate_runner::DEFAULT_TREE_CACHE_LIMIT,
            maintenance_every: 100,
            keep_rejected: 100,
            admin_token_file: None,
            read_needs_token: false,
            base_path: String::new(),
            stall_factor: 3,
            stall_floor: Duration::from_secs(600),
            projects: Vec::new(),
        }
    }

    /// Reads a TOML file over the defaults; the error names the file, line and field. A
    /// relative path in the file is taken from the file's folder, as a reader of the file
    /// would take it, not from wherever the service was started.
    pub fn read(path: &Path, data_dir: PathBuf) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let mut config =
            Config::parse_located(&text, data_dir).map_err(|error| error.at(path, &text))?;
        config.file = Some(path.to_owned());
        let folder = std::path::absolute(path)
            .map_err(|error| format!("{}: {error}", path.display()))?
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_owned);
        config.data_dir = folder.join(&config.data_dir);
        config.work_dir = config.work_dir.map(|dir| folder.join(dir));
        config.writable = config.writable.iter().map(|dir| folder.join(dir)).collect();
        config.admin_token_file = config.admin_token_file.map(|file| folder.join(file));
        Ok(config)
    }

    /// The configuration in `text`; an error says where in it (`line L, column C: …`).
    pub fn parse(text: &str, data_dir: PathBuf) -> Result<Config, String> {
        Config::parse_located(text, data_dir).map_err(|error| error.in_text(text))
    }

    fn parse_located(text: &str, data_dir: PathBuf) -> Result<Config, Located> {
        let file: File = toml::from_str(text).map_err(Located::toml)?;
        let mut config = Config::new(file.data_dir.clone().unwrap_or(data_dir));
        config.runtime = runtime(&file)?;
        if let Some(listen) = file.listen {
            config.listen = listen;
        }
        config.work_dir = file.work_dir;
        if let Some(slots) = file.slots {
            if slots == 0 {
                return Err(String::from(
                    "slots: must be at least 1 (`local_slots = 0` runs nothing here)",
                )
                .into());
            }
            config.local_slots = slots;
        }
        if let Some(slots) = file.local_slots {
            config.local_slots = slots;
        }
        if let Some(term) = file.lease_term {
            config.lease_term = parse_duration("lease_term", &term)?;
        }
        if let Some(wait) = file.unplaceable_timeout {
            config.unplaceable_timeout = parse_duration("unplaceable_timeout", &wait)?;
        }
        if let Some(interval) = file.poll_interval {
            config.poll_interval = parse_duration("poll_interval", &interval)?;
        }
        if let Some(backoff) = file.retry_backoff {
            config.retry_backoff = parse_duration("retry_backoff", &backoff)?;
        }
        if let Some(attempts) = file.attempts {
            config.attempts = attempts.max(1);
        }
        if let Some(every) = file.maintenance_every {
            config.maintenance_every = every.max(1);
        }
        if let Some(kept) = file.keep_rejected {
            config.keep_rejected = kept;
        }
        config.sandbox = file.sandbox.unwrap_or(true);
        config.salt = file.salt.unwrap_or(config.salt);
        config.writable = file.writable;
        if let Some(size) = file.tree_cache_size {
            config.tree_cache_size = parse_size(&size).ok_or_else(|| {
                format!("tree_cache_size: `{size}` is not a size (write it like `500MiB`, `20GiB`)")
            })?;
        }
        config.admin_token_file = file.admin_token_file;
        config.read_needs_token = file.read_needs_token.unwrap_or(false);
        if let Some(base) = file.base_path {
            config.base_path = base_path(&base)?;
        }
        if let Some(factor) = file.stall_factor {
            config.stall_factor = factor.max(1);
        }
        if let Some(floor) = file.stall_floor {
            config.stall_floor = parse_duration("stall_floor", &floor)?;
        }
        config.projects = file.project;
        Ok(config)
    }
}

fn parse_duration(field: &str, text: &str) -> Result<Duration, String> {
    parse_duration_text(text).ok_or_else(|| {
        format!("{field}: `{text}` is not a duration (write it like `500ms`, `10s`, `2m`)")
    })
}

/// `4096`, `500MiB`, `20GiB`, `1TiB` (also `MB`, `GB`: the same powers of two, as `du` means).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KB" | "KiB" => 10,
        "M" | "MB" | "MiB" => 20,
        "G" | "GB" | "GiB" => 30,
        "T" | "TB" | "TiB" => 40,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}

/// `500ms`, `10s`, `2m`, `1h`.
pub fn parse_duration_text(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    Some(match unit.trim() {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number * 60),
        "h" => Duration::from_secs(number * 3600),
        _ => return None,
    })
}

/// A base path as the service uses it: `/tollgate`, from `tollgate`, `/tollgate/` or `/`.
pub fn base_path(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_matches('/');
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '~');
    if !trimmed.chars().all(fits) || trimmed.contains("//") {
        return Err(format!(
            "base_path: `{text}` is not a path (letters, digits, `-`, `_`, `.`, `~` between `/`)"
        ));
    }
    Ok(match trimmed {
        "" => String::new(),
        path => format!("/{path}"),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    work_dir: Option<PathBuf>,
    slots: Option<u32>,
    local_slots: Option<u32>,
    lease_term: Option<String>,
    unplaceable_timeout: Option<String>,
    #[serde(default)]
    sched_rules: Vec<Spanned<SchedRuleFile>>,
    #[serde(default)]
    parallel_project_rules: Vec<Spanned<ParallelRuleFile>>,
    #[serde(default)]
    platform_classes: Vec<Spanned<PlatformClassFile>>,
    parallel_integration_delay: Option<Spanned<String>>,
    accumulation: Option<Spanned<AccumulationFile>>,
    poll_interval: Option<String>,
    retry_backoff: Option<String>,
    attempts: Option<u32>,
    maintenance_every: Option<u32>,
    keep_rejected: Option<u32>,
    flaky_reruns: Option<u32>,
    max_batch: Option<u32>,
    sandbox: Option<bool>,
    salt: Option<String>,
    #[serde(default)]
    writable: Vec<PathBuf>,
    tree_cache_size: Option<String>,
    admin_token_file: Option<PathBuf>,
    read_needs_token: Option<bool>,
    base_path: Option<String>,
    stall_factor: Option<u32>,
    stall_floor: Option<String>,
    #[serde(default)]
    project: Vec<ProjectSpec>,
}

/// `[[sched_rules]]`: `match = { "target.os" = "MacOS|IOS" }`, `labels = { hw = "apple" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchedRuleFile {
    #[serde(rename = "match")]
    matches: std::collections::BTreeMap<String, String>,
    labels: std::collections::BTreeMap<String, String>,
}

/// `[accumulation]`: `author = "Cherry-pick Bot"`, `delay = "10m"`, `enabled = true`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccumulationFile {
    author: String,
    delay: String,
    enabled: Option<bool>,
}

/// A message about the configuration, and where in its text it is (a byte offset).
struct Located {
    message: String,
    at: Option<usize>,
}

impl From<String> for Located {
    fn from(message: String) -> Located {
        Located { message, at: None }
    }
}

impl Located {
    fn toml(error: toml::de::Error) -> Located {
        let at = error.span().map(|span| span.start);
        Located { message: error.message().trim().to_owned(), at }
    }

    fn of<T>(spanned: &Spanned<T>, message: String) -> Located {
        Located { message, at: Some(spanned.span().start) }
    }

    /// `line:column` of the offset in `text`, counted from 1.
    fn line_column(&self, text: &str) -> Option<(usize, usize)> {
        let before = text.get(..self.at?)?;
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
        Some((line, column))
    }

    /// `FILE:LINE:COLUMN: message`, as compilers say it.
    fn at(&self, path: &Path, text: &str) -> String {
        match self.line_column(text) {
            Some((line, column)) => format!("{}:{line}:{column}: {}", path.display(), self.message),
            None => format!("{}: {}", path.display(), self.message),
        }
    }

    fn in_text(&self, text: &str) -> String {
        match self.line_column(text) {
            Some((line, column)) => format!("line {line}, column {column}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// The runtime part of the file, every rule checked: a pattern that does not compile, a depth
/// of 0, a duration that does not read is an error at its place.
fn runtime(file: &File) -> Result<Runtime, Located> {
    use tollgate_core::schedule::{AttributeMatch, ParallelRule, PlatformClass, SchedRule};
    let mut runtime = Runtime::default();
    if let Some(reruns) = file.flaky_reruns {
        runtime.flaky_reruns = reruns;
    }
    if let Some(batch) = file.max_batch {
        runtime.max_batch = batch.max(1);
    }
    let pairs = |map: &std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    for (index, spanned) in file.sched_rules.iter().enumerate() {
        let rule = spanned.get_ref();
        let matches = pairs(&rule.matches);
        let matches: Vec<(&str, &str)> =
            matches.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let parsed = SchedRule::new(&matches, rule.labels.clone()).map_err(|error| {
            Located::of(spanned, format!("sched_rules[{index}].match: {error}"))
        })?;
        runtime.sched_rules.push(parsed);
    }
    for (index, spanned) in file.parallel_project_rules.iter().enumerate() {
        let rule = spanned.get_ref();
        let any = |pattern: &Option<String>| pattern.clone().unwrap_or_else(|| ".*".into());
        if rule.depth == 0 {
            let message = format!("parallel_project_rules[{index}].depth: must be at least 1");
            return Err(Located::of(spanned, message));
        }
        let parsed = ParallelRule::new(&any(&rule.project), &any(&rule.branch), rule.depth)
            .map_err(|error| {
                Located::of(spanned, format!("parallel_project_rules[{index}]: {error}"))
            })?;
        runtime.speculation.parallel.push(parsed);
    }
    for (index, spanned) in file.platform_classes.iter().enumerate() {
        let class = spanned.get_ref();
        let matches = pairs(&class.matches);
        let matches: Vec<(&str, &str)> =
            matches.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let parsed = AttributeMatch::new(&matches).map_err(|error| {
            Located::of(spanned, format!("platform_classes[{index}].match: {error}"))
        })?;
        if class.depth == 0 {
            let message = format!(
                "platform_classes[{index}].depth: must be at least 1 (the head integration)"
            );
            return Err(Located::of(spanned, message));
        }
        runtime.speculation.classes.push(PlatformClass {
            name: class.name.clone().unwrap_or_else(|| format!("platform_classes[{index}]")),
            matches: parsed,
            depth: class.depth,
        });
    }
    if let Some(delay) = &file.parallel_integration_delay {
        runtime.parallel_integration_delay =
            parse_duration("parallel_integration_delay", delay.get_ref())
                .map_err(|message| Located::of(delay, message))?;
    }
    if let Some(spanned) = &file.accumulation {
        let accumulation = spanned.get_ref();
        let author = regex::Regex::new(&accumulation.author)
            .map_err(|error| Located::of(spanned, format!("accumulation.author: {error}")))?;
        let delay = parse_duration("accumulation.delay", &accumulation.delay)
            .map_err(|message| Located::of(spanned, message))?;
        let enabled = accumulation.enabled.unwrap_or(true);
        runtime.accumulation = Some(Accumulation { author, delay, enabled });
    }
    Ok(runtime)
}

/// `[[parallel_project_rules]]`: `project = "qt/.*"`, `branch = "dev"`, `depth = 4`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParallelRuleFile {
    project: Option<String>,
    branch: Option<String>,
    depth: u32,
}

/// `[[platform_classes]]`: `name`, `match = { "target.os" = "Windows" }`, `depth = 1`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformClassFile {
    name: Option<String>,
    #[serde(rename = "match")]
    matches: std::collections::BTreeMap<String, String>,
    depth: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_runtime_rule_is_refused_at_its_line() {
        let text = "max_batch = 4\n\n[[parallel_project_rules]]\nproject = \"demo/(\"\ndepth = 2\n";
        let error = Config::parse(text, PathBuf::from("/data")).err().unwrap();
        assert!(error.starts_with("line 3, column 1: parallel_project_rules[0]:"), "{error}");
        let text = "flaky_reruns = 2\n[accumulation]\nauthor = \"Bot\"\ndelay = \"soon\"\n";
        let error = Config::parse(text, PathBuf::from("/data")).err().unwrap();
        assert!(error.starts_with("line 2, column 1: accumulation.delay: `soon`"), "{error}");
        let error = Config::parse("max_batch = \"many\"\n", PathBuf::from("/data")).err();
        assert!(error.unwrap().starts_with("line 1, column 13: "));
        let text = "[[platform_classes]]\nmatch = { compiler = \"Clang\" }\ndepth = 0\n";
        let error = Config::parse(text, PathBuf::from("/data")).err().unwrap();
        assert!(error.contains("platform_classes[0].depth: must be at least 1"), "{error}");
    }

    #[test]
    fn the_runtime_part_reads_with_its_rules() {
        let text = "flaky_reruns = 1\nmax_batch = 7\nparallel_integration_delay = \"2s\"\n\
                    [[parallel_project_rules]]\nbranch = \"dev\"\ndepth = 4\n\
                    [accumulation]\nauthor = \"Bot\"\ndelay = \"1m\"\nenabled = false\n";
        let runtime = Config::parse(text, PathBuf::from("/data")).unwrap().runtime;
        assert_eq!((runtime.flaky_reruns, runtime.max_batch), (1, 7));
        assert_eq!(runtime.parallel_integration_delay, Duration::from_secs(2));
        assert_eq!(runtime.speculation.depth("any/project", "dev"), 4);
        assert_eq!(runtime.speculation.depth("any/project", "main"), 1);
        assert!(runtime.accumulating().is_none(), "switched off");
        assert_eq!(runtime.accumulation.unwrap().delay, Duration::from_secs(60));
    }

    #[test]
    fn a_file_overrides_the_defaults() {
        let config = Config::parse(
            "slots = 3\npoll_interval = \"250ms\"\n[[project]]\nname = \"demo/greeter\"\nurl = \"file:///srv/greeter.git\"\nbranches = [\"main\"]\n",
            PathBuf::from("/data"),
        )
        .unwrap();
        assert_eq!(config.local_slots, 3);
        assert_eq!(config.poll_interval, Duration::from_millis(250));
        assert_eq!(config.projects[0].branches, vec!["main".to_owned()]);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(!config.read_needs_token);
        assert_eq!(base_path("/tollgate/").unwrap(), "/tollgate");
        assert_eq!(base_path("ci/tollgate").unwrap(), "/ci/tollgate");
        assert_eq!(base_path("/").unwrap(), "");
        assert!(base_path("/a b").is_err());
        let reads = Config::parse("read_needs_token = true\n", PathBuf::from("/data")).unwrap();
        assert!(reads.read_needs_token);
        assert_eq!((config.stall_factor, config.stall_floor), (3, Duration::from_secs(600)));
        let stall = "stall_factor = 5\nstall_floor = \"2m\"\n";
        let stall = Config::parse(stall, PathBuf::from("/data")).unwrap();
        assert_eq!((stall.stall_factor, stall.stall_floor), (5, Duration::from_secs(120)));
    }

    #[test]
    fn relative_paths_in_a_file_are_taken_from_its_folder() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("tollgate.toml");
        let text = "data_dir = \"data\"\nwork_dir = \"../work\"\nwritable = [\"/ccache\", \"cache\"]\n\
                    admin_token_file = \"secrets/admin.token\"\n";
        std::fs::write(&file, text).unwrap();
        let config = Config::read(&file, PathBuf::from("/default")).unwrap();
        assert_eq!(config.data_dir, folder.path().join("data"));
        assert_eq!(config.admin_token_file, Some(folder.path().join("secrets/admin.token")));
        assert_eq!(config.work_dir, Some(folder.path().join("../work")));
        assert_eq!(config.writable, [PathBuf::from("/ccache"), folder.path().join("cache")]);
    }

    #[test]
    fn sizes_read_as_du_writes_them() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("500MiB"), Some(500 << 20));
        assert_eq!(parse_size("20 GB"), Some(20 << 30));
        assert_eq!(parse_size("lots"), None);
        let error = Config::parse("tree_cache_size = \"big\"\n", PathBuf::from("/d")).unwrap_err();
        assert!(error.contains("tree_cache_size") && error.contains("big"), "{error}");
    }

    #[test]
    fn a_mistake_names_the_line_and_the_field() {
        let error = Config::parse("slots = 2\nslotz = 3\n", PathBuf::from("/data")).unwrap_err();
        assert!(error.contains("line 2") && error.contains("slotz"), "{error}");
        let error =
            Config::parse("poll_interval = \"soon\"\n", PathBuf::from("/data")).unwrap_err();
        assert!(error.contains("poll_interval") && error.contains("soon"), "{error}");
    }
}
