//! What `/metrics` shows, in Prometheus' formats (the `prometheus-client` crate).
//!
//! Counters and histograms live here, in memory, and are moved where the transitions happen
//! (the integration's run, the branch's task); they start from zero with each process, as
//! Prometheus expects of counters. Gauges are not kept: each scrape reads them from what the
//! controller has (the pool, the agents, each branch's pace) and hands them in as [`Gauges`].

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use tollgate_api::{ChangeState, IntegrationState};
use tollgate_state::{Formed, now_ms};

use crate::controller::{Controller, lock};

const PREFIX: &str = "tollgate";

/// From a few seconds (a cached build) to a day (a queue behind a broken machine).
const STAGE_TO_MERGE: [f64; 14] = [
    5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0,
    86400.0,
];
/// From a check that prints a line to Qt's longest test runs.
const WORK_ITEM: [f64; 14] =
    [0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0];

/// The integrations' ends that are counted, each from zero, so that a rate is defined before
/// the first of its kind.
const OUTCOMES: [IntegrationState; 5] = [
    IntegrationState::Merged,
    IntegrationState::Rejected,
    IntegrationState::Errored,
    IntegrationState::Cancelled,
    IntegrationState::Superseded,
];

/// How often the store is walked for its size, at most.
const STORE_WALK_EVERY: Duration = Duration::from_secs(60);

/// A system error that befell a work item: never the change's fault (the brief's invariant 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SystemError {
    /// Its agent stopped heartbeating and lost the lease.
    AgentLost,
    /// No connected agent could run it, for longer than `unplaceable_timeout`.
    Unplaceable,
    /// The controller could not start it (the plan, the start's record).
    StartFailed,
    /// It ran and ended in an `Error`: the machine failed (the sandbox, the disk).
    RunErrored,
}

impl SystemError {
    const ALL: [SystemError; 4] = [
        SystemError::AgentLost,
        SystemError::Unplaceable,
        SystemError::StartFailed,
        SystemError::RunErrored,
    ];

    fn as_str(self) -> &'static str {
        match self {
            SystemError::AgentLost => "agent_lost",
            SystemError::Unplaceable => "unplaceable",
            SystemError::StartFailed => "start_failed",
            SystemError::RunErrored => "run_errored",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkItemLabels {
    configuration: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BranchLabels {
    project: String,
    branch: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub(crate) struct Metrics {
    registry: Registry,
    integrations: Family<OutcomeLabel, Counter>,
    stage_to_merge: Histogram,
    work_items: Histograms<WorkItemLabels>,
    reuse_hits: Counter,
    system_errors: Family<KindLabel, Counter>,
    retries: Counter,
    store_size: StoreSize,
}

/// What a scrape reads at that moment.
#[derive(Debug, Default)]
pub(crate) struct Gauges {
    pub branches: Vec<BranchGauges>,
    /// Agents by state (`idle`, `busy`, `draining`, `lost`).
    pub agents: tollgate_api::AgentCounts,
    pub slots_busy: u32,
    pub slots: u32,
    /// `None` until the store's first walk ended.
    pub store_bytes: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct BranchGauges {
    pub project: String,
    pub branch: String,
    pub staged: u64,
    pub stalled: bool,
}

/// Which text a scraper asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// What Prometheus asks for first, and what the crate writes.
    OpenMetrics,
    /// The older text format (0.0.4), for everything else: curl, `promtool check metrics`.
    Text,
}

impl Format {
    /// OpenMetrics when the `Accept` header names it; the older text otherwise.
    pub fn accepted(accept: Option<&str>) -> Format {
        match accept.is_some_and(|accept| accept.contains("application/openmetrics-text")) {
            true => Format::OpenMetrics,
            false => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let integrations = Family::<OutcomeLabel, Counter>::default();
        for outcome in OUTCOMES {
            let _zero =
                integrations.get_or_create(&OutcomeLabel { outcome: outcome.as_str().to_owned() });
        }
        registry.register(
            "integrations",
            "Integrations that ended, by outcome (merged, rejected, errored, cancelled, superseded)",
            integrations.clone(),
        );
        let stage_to_merge = Histogram::new(STAGE_TO_MERGE);
        registry.register_with_unit(
            "stage_to_merge",
            "Time from a change's staging to its merge, of each merged change",
            Unit::Seconds,
            stage_to_merge.clone(),
        );
        let work_items: Histograms<WorkItemLabels> =
            Family::new_with_constructor(|| Histogram::new(WORK_ITEM));
        registry.register_with_unit(
            "work_item_duration",
            "Runs of work items on an agent, from the lease to the end, by platform configuration and outcome",
            Unit::Seconds,
            work_items.clone(),
        );
        let reuse_hits = Counter::default();
        registry.register(
            "reuse_hits",
            "Work items not run because the store had a passed result with their build key",
            reuse_hits.clone(),
        );
        let system_errors = Family::<KindLabel, Counter>::default();
        for kind in SystemError::ALL {
            let _zero = system_errors.get_or_create(&KindLabel { kind: kind.as_str().to_owned() });
        }
        registry.register(
            "system_errors",
            "System errors of work items by kind (agent_lost, unplaceable, start_failed, run_errored); never the changes' fault",
            system_errors.clone(),
        );
        let retries = Counter::default();
        registry.register(
            "work_item_retries",
            "Work items run again after a system error, with backoff",
            retries.clone(),
        );
        Metrics {
            registry,
            integrations,
            stage_to_merge,
            work_items,
            reuse_hits,
            system_errors,
            retries,
            store_size: StoreSize::default(),
        }
    }
}

impl Metrics {
    pub fn integration_ended(&self, outcome: IntegrationState) {
        let label = OutcomeLabel { outcome: outcome.as_str().to_owned() };
        self.integrations.get_or_create(&label).inc();
    }

    pub fn merged_after(&self, waited: Duration) {
        self.stage_to_merge.observe(waited.as_secs_f64());
    }

    pub fn work_item_ran(&self, configuration: &str, outcome: &str, took: Duration) {
        let labels =
            WorkItemLabels { configuration: configuration.to_owned(), outcome: outcome.to_owned() };
        self.work_items.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn reused(&self) {
        self.reuse_hits.inc();
    }

    pub fn system_error(&self, kind: SystemError) {
        self.system_errors.get_or_create(&KindLabel { kind: kind.as_str().to_owned() }).inc();
    }

    pub fn retried(&self) {
        self.retries.inc();
    }

    /// The store's size in bytes as the last walk found it; a walk starts in a blocking task
    /// when the last is older than a minute, and nobody waits for it.
    pub fn store_bytes(&self, root: &Path) -> Option<u64> {
        self.store_size.get(root)
    }

    /// The counters, then the gauges of this scrape, in `format`.
    pub fn encode(&self, gauges: &Gauges, format: Format) -> Result<String, fmt::Error> {
        let scrape = gauge_registry(gauges);
        let mut text = String::new();
        encode_registry(&mut text, &self.registry)?;
        encode_registry(&mut text, &scrape)?;
        encode_eof(&mut text)?;
        Ok(match format {
            Format::OpenMetrics => text,
            Format::Text => prometheus_text(&text),
        })
    }
}

fn gauge_registry(gauges: &Gauges) -> Registry {
    let mut registry = Registry::with_prefix(PREFIX);
    let queue = Family::<BranchLabels, Gauge>::default();
    let stalled = Family::<BranchLabels, Gauge>::default();
    for branch in &gauges.branches {
        let labels =
            BranchLabels { project: branch.project.clone(), branch: branch.branch.clone() };
        queue.get_or_create(&labels).set(branch.staged as i64);
        stalled.get_or_create(&labels).set(i64::from(branch.stalled));
    }
    registry.register("queue_depth", "Changes staged on a gated branch, waiting", queue);
    registry.register(
        "branch_stalled",
        "1 when a gated branch's queue has had no verdict for stall_factor times its median integration time",
        stalled,
    );
    let agents = Family::<StateLabel, Gauge>::default();
    for (state, count) in gauges.agents.by_state() {
        agents.get_or_create(&StateLabel { state: state.to_owned() }).set(i64::from(count));
    }
    registry.register(
        "agents",
        "Agents by state (idle, busy, draining, lost); this machine's own slots are one",
        agents,
    );
    let gauge = |value: u64| {
        let gauge = Gauge::<i64>::default();
        gauge.set(value as i64);
        gauge
    };
    registry.register(
        "slots_busy",
        "Slots running a work item, on every connected agent",
        gauge(gauges.slots_busy.into()),
    );
    // Not `slots_total`: that suffix is for counters.
    registry.register("slots", "Slots of every connected agent", gauge(gauges.slots.into()));
    if let Some(bytes) = gauges.store_bytes {
        registry.register_with_unit(
            "store",
            "Bytes of the artifact store's files (blobs, records), as of its last walk",
            Unit::Bytes,
            gauge(bytes),
        );
    }
    registry
}

/// The text format 0.0.4 from the OpenMetrics text the crate writes. The two differ where a
/// counter is described: OpenMetrics names the family without the samples' `_total`, which
/// the older format (and `promtool check metrics`) reads as a second family without a `HELP`;
/// `# UNIT` and `# EOF` are OpenMetrics' own.
fn prometheus_text(open_metrics: &str) -> String {
    let counters: HashSet<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(open_metrics.len() + 16 * counters.len());
    for line in open_metrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].into_iter().find_map(|comment| {
            let (name, rest) = line.strip_prefix(comment)?.split_once(' ')?;
            counters.contains(name).then(|| format!("{comment}{name}_total {rest}"))
        });
        text.push_str(described.as_deref().unwrap_or(line));
        text.push('\n');
    }
    text
}

/// The store's size as of its last walk: a scrape never walks it, so a big store costs a
/// walk a minute at most, off the async threads.
#[derive(Default)]
struct StoreSize {
    walked: Arc<Mutex<Walked>>,
}

#[derive(Default)]
struct Walked {
    bytes: Option<u64>,
    at: Option<Instant>,
    walking: bool,
}

impl StoreSize {
    fn get(&self, root: &Path) -> Option<u64> {
        let mut walked = lock(&self.walked);
        let due = walked.at.is_none_or(|at| at.elapsed() >= STORE_WALK_EVERY);
        if due && !walked.walking {
            walked.walking = true;
            let (state, root) = (self.walked.clone(), root.to_owned());
            tokio::task::spawn_blocking(move || {
                let bytes = bytes_under(root);
                let mut walked = lock(&state);
                *walked = Walked { bytes: Some(bytes), at: Some(Instant::now()), walking: false };
            });
        }
        walked.bytes
    }
}

/// The sizes of the files under `root`, links not followed; what cannot be read (a file
/// removed meanwhile) is left out.
fn bytes_under(root: PathBuf) -> u64 {
    let mut folders = vec![root];
    let mut bytes = 0;
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(metadata) if metadata.is_dir() => folders.push(entry.path()),
                Ok(metadata) if metadata.is_file() => bytes += metadata.len(),
                _ => {}
            }
        }
    }
    bytes
}

impl Controller {
    /// Counts an integration that ended. The time each of its merged changes waited from its
    /// staging is read in a task of its own: the branch's next integration does not wait for
    /// a metric.
    pub(crate) fn count_ended(self: &Arc<Self>, integration: &Formed) {
        if !integration.state.is_final() {
            return;
        }
        self.metrics.integration_ended(integration.state);
        if integration.state != IntegrationState::Merged {
            return;
        }
        let (controller, merged_at) = (self.clone(), now_ms());
        let changes: Vec<i64> = integration.changes.iter().map(|(id, _)| *id).collect();
        tokio::spawn(async move {
            for id in changes {
                match controller.db.change(id).await {
                    Ok(Some(change)) if change.state == ChangeState::Merged => {
                        let waited = (merged_at - change.staged_at).max(0) as u64;
                        controller.metrics.merged_after(Duration::from_millis(waited));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(change = id, %error, "cannot read a merged change")
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_a_counter_as_its_samples() {
        let open_metrics = "# HELP tollgate_reuse_hits Work items reused.\n\
            # TYPE tollgate_reuse_hits counter\n\
            tollgate_reuse_hits_total 2\n\
            # HELP tollgate_store_bytes Bytes.\n\
            # TYPE tollgate_store_bytes gauge\n\
            # UNIT tollgate_store_bytes bytes\n\
            tollgate_store_bytes 10\n\
            # EOF\n";
        assert_eq!(
            prometheus_text(open_metrics),
            "# HELP tollgate_reuse_hits_total Work items reused.\n\
             # TYPE tollgate_reuse_hits_total counter\n\
             tollgate_reuse_hits_total 2\n\
             # HELP tollgate_store_bytes Bytes.\n\
             # TYPE tollgate_store_bytes gauge\n\
             tollgate_store_bytes 10\n"
        );
    }

    #[test]
    fn counters_start_at_zero_for_every_outcome_and_kind() {
        let metrics = Metrics::default();
        metrics.integration_ended(IntegrationState::Merged);
        metrics.work_item_ran("linux", "passed", Duration::from_millis(1500));
        let text = metrics.encode(&Gauges::default(), Format::Text).unwrap();
        assert!(text.contains("tollgate_integrations_total{outcome=\"merged\"} 1\n"), "{text}");
        assert!(text.contains("tollgate_integrations_total{outcome=\"superseded\"} 0\n"));
        assert!(text.contains("tollgate_system_errors_total{kind=\"agent_lost\"} 0\n"));
        let count = "tollgate_work_item_duration_seconds_count{configuration=\"linux\",outcome=\"passed\"} 1\n";
        assert!(text.contains(count), "{text}");
        assert!(!text.contains("tollgate_store_bytes"), "not walked yet: {text}");
        assert_eq!(Format::accepted(Some("text/plain")), Format::Text);
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.4";
        assert_eq!(Format::accepted(Some(prometheus)), Format::OpenMetrics);
    }

    #[test]
    fn the_store_size_adds_up_its_files_in_every_folder() {
        let store = tempfile::tempdir().unwrap();
        let fan = store.path().join("blobs").join("ab");
        std::fs::create_dir_all(&fan).unwrap();
        std::fs::write(fan.join("blob"), [0; 1000]).unwrap();
        std::fs::write(store.path().join("record.json"), "{}").unwrap();
        std::os::unix::fs::symlink("/etc", store.path().join("link")).unwrap();
        assert_eq!(bytes_under(store.path().to_owned()), 1002, "links are not followed");
        assert_eq!(bytes_under(store.path().join("none")), 0);
    }
}
