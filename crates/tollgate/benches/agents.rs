//! 200 trivial work items (`ExecuteCommand true`, sandbox on) through 2 agents on loopback
//! with one slot each: a controller (`tollgate serve --local-slots 0`) and two `tollgate
//! agent` processes, as an operator runs them. One integration of 200 platform
//! configurations, each one Build. Printed: work items per second from the first start to
//! the last end (the decision log's times), the wall time from staging to the merge, and
//! each agent's memory and CPU while idle afterwards.
//!
//! `cargo bench -p tollgate --bench agents`. Environment: `TOLLGATE_BENCH_ITEMS` (200),
//! `TOLLGATE_BENCH_REPS` (3), `TOLLGATE_BENCH_IDLE_SECS` (60), `TOLLGATE_BENCH_BUILDBOT=1` to
//! run `../shared/bench/buildbot/run.sh` in the same run and print the ratio,
//! `TOLLGATE_BENCH_WORK_DIR=DIR` for the agents' workspaces under DIR (a tmpfs shows what the
//! disk costs), `TOLLGATE_BENCH_LOCAL=1` for the controller's own 2 slots instead of the agents (the same
//! work without the wire, for comparison). The CPU time of the controller and of the agents
//! over each run is printed too: on two cores it is what the rate comes down to.
//! `TOLLGATE_BENCH_LOG_MB=N` measures log ingest instead: one work item prints N MB of
//! 100-byte lines through an agent, and the MB/s from its start to its end at the controller
//! (its whole log streamed there) is printed. `TOLLGATE_BENCH_FOLLOW=N` measures how soon a
//! line reaches a follower of the log at the controller instead: the work item prints the wall
//! clock N times, every 10 ms, on an agent, `curl` follows `/api/log/stream` at the
//! controller, and each line's delay (read less printed) is taken: p50, p99, worst.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TEMPLATE: &str = "qtci-linux-Debian-12-x86_64-1";

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        println!("agents: benchmark");
        return;
    }
    let number = |name: &str, default: u64| {
        std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
    };
    let items = number("TOLLGATE_BENCH_ITEMS", 200);
    let reps = number("TOLLGATE_BENCH_REPS", 3);
    let idle = number("TOLLGATE_BENCH_IDLE_SECS", 60);
    let local = std::env::var("TOLLGATE_BENCH_LOCAL").is_ok_and(|v| v == "1");
    let log_mb = number("TOLLGATE_BENCH_LOG_MB", 0);
    let follow = number("TOLLGATE_BENCH_FOLLOW", 0);
    let items = if log_mb > 0 || follow > 0 { 1 } else { items };
    let tmp = tempfile::tempdir().unwrap();
    let command = match (log_mb, follow) {
        (0, 0) => "[\"true\"]".to_owned(),
        (0, lines) => format!(
            "[\"sh\", \"-c\", \"sleep 1; i=0; while [ $i -lt {lines} ]; do date +%s%N; sleep 0.01; i=$((i+1)); done\"]"
        ),
        (mb, _) => format!(
            "[\"sh\", \"-c\", \"head -c {} /dev/zero | tr '\\\\0' x | fold -w 99\"]",
            mb * 1_000_000
        ),
    };
    let site = Site::new(tmp.path(), items, local, &command);
    if std::env::var_os("TOLLGATE_BENCH_KEEP").is_some() {
        println!("agents: the site stays in {}", tmp.path().display());
        std::mem::forget(tmp);
    }
    if follow > 0 {
        let mut delays: Vec<f64> = (0..reps).flat_map(|rep| site.follow(rep, follow)).collect();
        delays.sort_by(f64::total_cmp);
        let at = |q: f64| delays[((delays.len() - 1) as f64 * q) as usize];
        println!(
            "agents: a line printed on {} to a follower at the controller: {} lines, p50 {:.1} ms, p99 {:.1} ms, worst {:.1} ms",
            if local { "the controller's own slot" } else { "an agent" },
            delays.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
        return;
    }
    let mut rates = Vec::new();
    for rep in 0..reps {
        let before = site.cpu();
        let (rate, wall) = site.integrate(&format!("rep{rep}"), items);
        let after = site.cpu();
        if log_mb > 0 {
            println!(
                "agents: {log_mb} MB of log through an agent at {:.0} MB/s",
                rate * log_mb as f64
            );
            rates.push(rate * log_mb as f64);
            continue;
        }
        let per_item = |a: u64, b: u64| (b - a) as f64 * 10.0 / items as f64;
        println!(
            "agents: {items} work items at {rate:.1} items/s; staged to merged in {wall:.2} s; \
             CPU per work item: controller {:.2} ms, agents {:.2} ms (their children included)",
            per_item(before.0, after.0),
            per_item(before.1, after.1),
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let how = if local { "the controller's 2 local slots" } else { "2 agents, 1 slot each" };
    match log_mb {
        0 => println!("agents: median {median:.1} work items/s over {reps} runs ({how})"),
        mb => {
            println!("agents: median {median:.0} MB/s of log over {reps} runs of {mb} MB ({how})")
        }
    }
    if std::env::var("TOLLGATE_BENCH_BUILDBOT").is_ok_and(|v| v == "1") {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/buildbot/run.sh");
        let output = Command::new("bash").arg(script).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().rev().find(|line| line.starts_with("buildbot:")).unwrap_or("");
        println!("{line}");
        let buildbot: Option<f64> = line
            .split('(')
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok());
        if let Some(buildbot) = buildbot {
            println!("agents: {:.0}× Buildbot's builds/s in the same run", median / buildbot);
        }
    }
    site.idle(Duration::from_secs(idle));
}

struct Site {
    dir: PathBuf,
    server: String,
    controller: Child,
    agents: Vec<Child>,
}

impl Drop for Site {
    fn drop(&mut self) {
        for child in self.agents.iter_mut().chain([&mut self.controller]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Site {
    fn new(dir: &Path, items: u64, local: bool, command: &str) -> Site {
        let work = dir.join("work");
        std::fs::create_dir_all(work.join("coin/platform_configs")).unwrap();
        std::fs::write(
            work.join("coin/module_config.yaml"),
            format!("version: 2\ninstructions:\n  Build:\n    - type: ExecuteCommand\n      command: {command}\n      maxTimeInSeconds: 600\n      maxTimeBetweenOutput: 60\n      userMessageOnFailure: \"the command failed\"\n"),
        )
        .unwrap();
        let mut platforms = String::from("Version: 2\nConfigurations:\n");
        for n in 0..items {
            platforms.push_str(&format!(
                "-\n    Id: 'c{n}'\n    Template: '{TEMPLATE}'\n    Compiler: 'GCC'\n"
            ));
        }
        std::fs::write(work.join("coin/platform_configs/app.yaml"), platforms).unwrap();
        let remote = dir.join("remote.git");
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["config", "maintenance.auto", "false"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "Initial"]);
        git(dir, &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
        git(&work, &["remote", "add", "origin", remote.to_str().unwrap()]);
        git(&work, &["push", "-q", "origin", "main"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.join("tollgate.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\nlocal_slots = {}\npoll_interval = \"1h\"\n\
                 admin_token_file = \"{}\"\n\n[[project]]\nname = \"bench/app\"\n\
                 url = \"file://{}\"\nbranches = [\"main\"]\n",
                if local { 2 } else { 0 },
                dir.join("admin.token").display(),
                remote.display()
            ),
        )
        .unwrap();
        let server = format!("http://127.0.0.1:{port}");
        let controller = tollgate(&server)
            .args(["serve", "--config", config.to_str().unwrap(), "--data-dir"])
            .arg(dir.join("data"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut site = Site { dir: dir.to_owned(), server, controller, agents: Vec::new() };
        site.until(|| site.admin(&["status", "--json"]).status.success());
        let names: &[&str] = if local { &[] } else { &["b1", "b2"] };
        for name in names {
            let token = dir.join(format!("{name}.token"));
            let added = site.admin(&[
                "token",
                "add",
                name,
                "--role",
                "agent",
                "--out",
                token.to_str().unwrap(),
            ]);
            assert!(added.status.success());
            let agent = tollgate(&site.server)
                .args(["agent", "--name", name, "--template", TEMPLATE, "--slots", "1"])
                .arg("--token-file")
                .arg(&token)
                .arg("--data-dir")
                .arg(dir.join(name))
                .args(match std::env::var_os("TOLLGATE_BENCH_WORK_DIR") {
                    Some(work) => {
                        vec!["--work-dir".into(), Path::new(&work).join(name).into_os_string()]
                    }
                    None => Vec::new(),
                })
                .stderr(match std::env::var_os("TOLLGATE_BENCH_AGENT_LOGS") {
                    Some(logs) => Stdio::from(
                        std::fs::File::create(Path::new(&logs).join(format!("{name}.log")))
                            .unwrap(),
                    ),
                    None => Stdio::null(),
                })
                .spawn()
                .unwrap();
            site.agents.push(agent);
        }
        site.until(|| {
            let agents = site.admin(&["agents", "--json"]);
            String::from_utf8_lossy(&agents.stdout).matches("\"idle\"").count() == names.len()
        });
        site
    }

    fn admin(&self, args: &[&str]) -> std::process::Output {
        let token = self.dir.join("admin.token");
        tollgate(&self.server).args(args).arg("--token-file").arg(token).output().unwrap()
    }

    fn until(&self, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(600), "nothing happened in 10 min");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A change that touches the tree (new build keys), staged and waited for: the work items'
    /// rate and the wall time.
    fn integrate(&self, topic: &str, items: u64) -> (f64, f64) {
        let work = self.dir.join("work");
        std::fs::write(work.join(topic), "").unwrap();
        git(&work, &["checkout", "-q", "-B", topic, "main"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", topic]);
        git(&work, &["push", "-q", "origin", topic]);
        let sha = git(&work, &["rev-parse", "HEAD"]);
        git(&work, &["checkout", "-q", "main"]);
        let start = Instant::now();
        let waited = self.admin(&["stage", "bench/app", "main", &sha, "--wait"]);
        let wall = start.elapsed().as_secs_f64();
        assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
        let status = self.admin(&["status", "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        let newest = status["branches"][0]["recent"][0]["id"].as_i64().unwrap();
        let mut started = Vec::new();
        let mut finished = Vec::new();
        let mut seq = None;
        // Every event of the newest integration, page by page.
        loop {
            let mut args = vec!["events", "--json", "--limit", "1000"];
            let before;
            if let Some(seq) = seq {
                before = format!("{seq}");
                args.extend(["--before", &before]);
            }
            let page = self.admin(&args);
            let page: serde_json::Value = serde_json::from_slice(&page.stdout).unwrap();
            let page = page["items"].as_array().unwrap().clone();
            if page.is_empty() {
                break;
            }
            for event in &page {
                if event["integration"].as_i64() == Some(newest) {
                    let at = event["at"].as_i64().unwrap();
                    match event["kind"].as_str().unwrap() {
                        "work_item_started" => started.push(at),
                        "work_item_finished" => finished.push(at),
                        _ => {}
                    }
                }
            }
            seq = page.last().and_then(|e| e["seq"].as_i64());
            if page.iter().any(|e| e["integration"].as_i64().is_some_and(|i| i < newest)) {
                break;
            }
        }
        assert_eq!(finished.len() as u64, items, "every work item ran");
        let span = (finished.iter().max().unwrap() - started.iter().min().unwrap()) as f64 / 1000.0;
        (items as f64 / span, wall)
    }

    /// The delays, in ms, of the `lines` lines of a work item that prints the clock, as a
    /// follower of its log at the controller reads them.
    fn follow(&self, rep: u64, lines: u64) -> Vec<f64> {
        use std::io::BufRead;
        std::thread::scope(|scope| {
            let integrated = scope.spawn(|| self.integrate(&format!("follow{rep}"), 1));
            self.until(|| {
                let status = self.admin(&["status", "--json"]);
                let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
                status["branches"][0]["current"]["work_items"][0]["state"] == "running"
            });
            let url = format!("{}/api/log/stream?item=bench/app:c0:Build", self.server);
            let mut curl =
                Command::new("curl").args(["-sN", &url]).stdout(Stdio::piped()).spawn().unwrap();
            let stdout = std::io::BufReader::new(curl.stdout.take().unwrap());
            let mut delays = Vec::new();
            for line in stdout.lines() {
                let line = line.unwrap();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                if line.starts_with("event: end") {
                    break;
                }
                let Some(data) = line.strip_prefix("data: ") else { continue };
                if !data.contains(" out ") {
                    continue;
                }
                let printed: u128 = data.rsplit(' ').next().unwrap().parse().unwrap();
                delays.push(now.saturating_sub(printed) as f64 / 1e6);
                if delays.len() as u64 == lines {
                    break;
                }
            }
            let _ = curl.kill();
            let _ = curl.wait();
            integrated.join().unwrap();
            delays
        })
    }

    /// CPU ticks so far of the controller and of the agents, with their waited-for children
    /// (git, bwrap, the work items).
    fn cpu(&self) -> (u64, u64) {
        let agents = self.agents.iter().map(|agent| cpu_ticks(agent.id())).sum();
        (cpu_ticks(self.controller.id()), agents)
    }

    /// Each agent's resident memory, and the CPU it used while idle for `wait`.
    fn idle(&self, wait: Duration) {
        if self.agents.is_empty() {
            return;
        }
        let rss = |pid: u32| -> u64 {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap().to_owned();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        let pids: Vec<u32> = self.agents.iter().map(Child::id).collect();
        let before: Vec<u64> = pids.iter().map(|&pid| cpu_ticks(pid)).collect();
        std::thread::sleep(wait);
        for (pid, before) in pids.iter().zip(before) {
            let ticks = cpu_ticks(*pid) - before;
            println!(
                "agents: idle agent (pid {pid}): RSS {:.1} MiB, {ticks} CPU ticks (1/100 s) in {} s",
                rss(*pid) as f64 / 1024.0,
                wait.as_secs()
            );
        }
    }
}

/// A process's CPU ticks (1/100 s) so far, with its waited-for children's: utime, stime,
/// cutime and cstime of `/proc/PID/stat`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    fields[11..15].iter().map(|f| f.parse::<u64>().unwrap()).sum()
}

fn tollgate(server: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command.env("TOLLGATE_SERVER", server).env_remove("TOLLGATE_TOKEN").stdout(Stdio::piped());
    command
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.org")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.org")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
