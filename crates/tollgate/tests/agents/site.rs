//! One project gated by a controller process whose work items only agents run
//! (`local_slots = 0`). The project has two platform configurations on two templates; the
//! agents serve them as the test says. The build script counts its runs per configuration in
//! a folder every sandbox may write, and a change with a `hold` file holds its builds on a
//! fifo there until the test lets them go.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::net::Net;

pub const DEADLINE: Duration = Duration::from_secs(120);
pub const TEMPLATE_A: &str = "qtci-linux-Debian-12-x86_64-1";
pub const TEMPLATE_B: &str = "qtci-linux-Ubuntu-22.04-x86_64-51";
/// A lease lives this long without a heartbeat: short, so that a lost agent is noticed soon.
pub const LEASE: &str = "3s";

pub struct Site {
    pub tmp: TempDir,
    pub net: Net,
    pub server: String,
    controller: Option<Child>,
    agents: Vec<Option<Child>>,
    released: std::cell::OnceCell<File>,
}

/// A site with a network of one of `net.rs`'s kinds for `agents` agents.
pub fn site(agents: u32) -> Site {
    Site::new(Net::new(agents), agents, MODULE)
}

/// A site whose module also has a Test: `test.sh`, which fails on the runs a `flaky-test`
/// file names (counted per configuration in `marks/tests-CONFIG`).
pub fn site_with_tests(agents: u32) -> Site {
    Site::new(Net::new(agents), agents, &format!("{MODULE}{TEST}"))
}

impl Site {
    fn new(net: Net, agents: u32, module: &str) -> Site {
        let tmp = TempDir::new().unwrap();
        let marks = tmp.path().join("marks");
        let work = tmp.path().join("work");
        for dir in [&marks, &work, &tmp.path().join("home")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        // Every sandbox's user may write the marks: agents run as root here, but a run that
        // drops its rights must still count.
        let open = std::os::unix::fs::PermissionsExt::from_mode(0o777);
        std::fs::set_permissions(&marks, open).unwrap();
        assert!(Command::new("mkfifo").arg(marks.join("gate")).status().unwrap().success());
        let build = format!(
            "echo building $CONFIG\necho run >> {m}/builds-$CONFIG\n\
             if [ -f \"$(dirname \"$0\")/hold\" ]; then [ -e {m}/released ] || read -r _ < {m}/gate; fi\n",
            m = marks.display()
        );
        let test = format!(
            "here=\"$(dirname \"$0\")\"\necho run >> {m}/tests-$CONFIG; n=$(wc -l < {m}/tests-$CONFIG)\n\
             if [ -f \"$here/flaky-test\" ] && grep -qw \"$n\" \"$here/flaky-test\"; then echo 'FAIL: app_test'; exit 1; fi\n",
            m = marks.display()
        );
        let files = [
            ("coin/module_config.yaml", module.to_owned()),
            ("test.sh", test),
            ("coin/platform_configs/app.yaml", PLATFORMS.to_owned()),
            ("build.sh", build),
        ];
        for (path, text) in files {
            let path = work.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let remote = tmp.path().join("remote.git");
        let home = tmp.path().join("home");
        git(&home, &work, &["init", "-q", "-b", "main"]);
        git(&home, &work, &["add", "-A"]);
        git(&home, &work, &["commit", "-q", "-m", "Initial"]);
        git(&home, tmp.path(), &["init", "-q", "--bare", "-b", "main", path_str(&remote)]);
        git(&home, &remote, &["config", "core.logAllRefUpdates", "always"]);
        git(&home, &work, &["remote", "add", "origin", path_str(&remote)]);
        git(&home, &work, &["push", "-q", "origin", "main"]);
        let address = net.controller();
        let port = std::net::TcpListener::bind(format!("{address}:0"))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            tmp.path().join("tollgate.toml"),
            format!(
                "listen = \"{address}:{port}\"\nlocal_slots = 0\npoll_interval = \"1h\"\n\
                 lease_term = \"{LEASE}\"\nretry_backoff = \"100ms\"\n\
                 admin_token_file = \"{}\"\n\n\
                 [[project]]\nname = \"demo/app\"\nurl = \"file://{}\"\nbranches = [\"main\"]\n",
                tmp.path().join("admin.token").display(),
                remote.display()
            ),
        )
        .unwrap();
        let mut site = Site {
            tmp,
            net,
            server: format!("http://{address}:{port}"),
            controller: None,
            agents: (0..agents).map(|_| None).collect(),
            released: std::cell::OnceCell::new(),
        };
        site.start_controller();
        site
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn start_controller(&mut self) {
        let log =
            File::options().create(true).append(true).open(self.path("controller.log")).unwrap();
        let config = self.path("tollgate.toml");
        let data = self.path("data");
        let child = self
            .command(&["serve", "--config", path_str(&config), "--data-dir", path_str(&data)])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.controller = Some(child);
        self.until("the controller answers", || self.admin(&["status", "--json"]).code == 0);
    }

    pub fn kill_controller(&mut self) {
        let mut child = self.controller.take().expect("the controller runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// `tollgate ARGS` with the site's server, and no token unless the arguments give one.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = isolated(env!("CARGO_BIN_EXE_tollgate"), &self.path("home"));
        command.args(args).env("TOLLGATE_SERVER", &self.server).env_remove("TOLLGATE_TOKEN");
        command
    }

    pub fn cli(&self, args: &[&str]) -> Run {
        run(&mut self.command(args))
    }

    /// `tollgate ARGS --token-file admin.token`.
    pub fn admin(&self, args: &[&str]) -> Run {
        let token = self.path("admin.token");
        self.cli(&[args, &["--token-file", path_str(&token)]].concat())
    }

    /// A token with role agent for `name`, in `NAME.token`.
    pub fn agent_token(&self, name: &str) -> PathBuf {
        let file = self.path(&format!("{name}.token"));
        if !file.exists() {
            let added =
                self.admin(&["token", "add", name, "--role", "agent", "--out", path_str(&file)]);
            assert_eq!(added.code, 0, "{}", added.stderr);
        }
        file
    }

    /// Starts agent `n` (1, 2, 3) in its namespace, named `aN`, serving `templates`, with its
    /// own token; its log goes to `aN.log`.
    pub fn start_agent(&mut self, n: u32, templates: &[&str]) {
        let name = format!("a{n}");
        let token = self.agent_token(&name);
        self.start_agent_with(n, templates, &token);
    }

    pub fn start_agent_with(&mut self, n: u32, templates: &[&str], token: &Path) {
        let child = self.agent_command(n, templates, token).spawn().unwrap();
        self.agents[n as usize - 1] = Some(child);
    }

    pub fn agent_command(&self, n: u32, templates: &[&str], token: &Path) -> Command {
        self.agent_command_named(n, &format!("a{n}"), templates, token)
    }

    /// An agent in namespace `n`, named `name`, logging to `aN.log`.
    pub fn agent_command_named(
        &self,
        n: u32,
        name: &str,
        templates: &[&str],
        token: &Path,
    ) -> Command {
        let log = File::options().create(true).append(true).open(self.agent_log_path(n)).unwrap();
        // One data directory per namespace: an agent restarted there finds what it left.
        let data = self.path(&format!("agents/a{n}"));
        let marks = self.path("marks");
        let mut command = self.net.command(n, env!("CARGO_BIN_EXE_tollgate"), &self.path("home"));
        let server = self.net.server_for(n, &self.server);
        command.args(["agent", "--server", &server, "--name", name]);
        command.args(["--token-file", path_str(token), "--data-dir", path_str(&data)]);
        command.args(["--writable", path_str(&marks)]);
        for template in templates {
            command.args(["--template", template]);
        }
        // The agent's debug events say when a run ended, which tests wait for.
        command.env("TOLLGATE_LOG", "info,tollgate_agent=debug").stdout(Stdio::null()).stderr(log);
        command
    }

    fn agent_log_path(&self, n: u32) -> PathBuf {
        self.path(&format!("a{n}.log"))
    }

    pub fn agent_log(&self, n: u32) -> String {
        std::fs::read_to_string(self.agent_log_path(n)).unwrap_or_default()
    }

    pub fn agent(&mut self, n: u32) -> &mut Child {
        self.agents[n as usize - 1].as_mut().expect("the agent runs")
    }

    pub fn kill_agent(&mut self, n: u32) {
        let mut child = self.agents[n as usize - 1].take().expect("the agent runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Waits for agent `n` to exit by itself; its exit code.
    pub fn agent_exit(&mut self, n: u32) -> i32 {
        let mut child = self.agents[n as usize - 1].take().expect("the agent runs");
        let mut status = None;
        self.until(&format!("agent a{n} exits"), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap().code().expect("exited, not killed")
    }

    /// A commit on main with `files`, pushed to a topic branch.
    pub fn change(&self, topic: &str, files: &[&str]) -> String {
        let (home, work) = (self.path("home"), self.path("work"));
        for file in files {
            std::fs::write(work.join(file), "").unwrap();
        }
        git(&home, &work, &["checkout", "-q", "-B", topic, "main"]);
        git(&home, &work, &["add", "-A"]);
        git(&home, &work, &["commit", "-q", "-m", &format!("Change {topic}")]);
        git(&home, &work, &["push", "-q", "origin", topic]);
        let sha = git(&home, &work, &["rev-parse", "HEAD"]);
        git(&home, &work, &["checkout", "-q", "main"]);
        sha
    }

    pub fn stage(&self, change: &str) {
        let staged = self.admin(&["stage", "demo/app", "main", change]);
        assert_eq!(staged.code, 0, "{}", staged.stderr);
    }

    /// Lets held builds go on.
    pub fn go(&self) {
        use std::io::Write;
        std::fs::write(self.path("marks/released"), "").unwrap();
        let open = || {
            let gate = self.path("marks/gate");
            std::fs::OpenOptions::new().read(true).write(true).open(gate).unwrap()
        };
        let mut fifo = self.released.get_or_init(open);
        fifo.write_all(b"go\ngo\ngo\n").unwrap();
    }

    /// How often the configuration's build ran.
    pub fn builds(&self, configuration: &str) -> usize {
        self.count(&format!("builds-{configuration}"))
    }

    /// How many times the Test of `configuration` ran.
    pub fn tests(&self, configuration: &str) -> usize {
        self.count(&format!("tests-{configuration}"))
    }

    fn count(&self, marks: &str) -> usize {
        let file = self.path(&format!("marks/{marks}"));
        std::fs::read_to_string(file).map_or(0, |text| text.lines().count())
    }

    pub fn status(&self) -> Value {
        let status = self.admin(&["status", "--json"]);
        assert_eq!(status.code, 0, "{}", status.stderr);
        status.json()
    }

    /// The work item of the running integration, or of the newest one.
    pub fn item(&self, id: &str) -> Option<Value> {
        let status = self.status();
        let branch = &status["branches"][0];
        let current = match &branch["current"] {
            Value::Null => return self.integration_item(branch["recent"][0]["id"].as_i64()?, id),
            current => current,
        };
        let items = current["work_items"].as_array()?;
        items.iter().find(|w| w["id"] == id).cloned()
    }

    pub fn integration_item(&self, integration: i64, id: &str) -> Option<Value> {
        let view = self.api(&format!("/api/integrations/{integration}"));
        view["work_items"].as_array()?.iter().find(|w| w["id"] == id).cloned()
    }

    /// A GET of the API with the admin token, through curl.
    pub fn api(&self, path: &str) -> Value {
        let secret = std::fs::read_to_string(self.path("admin.token")).unwrap();
        let output = Command::new("curl")
            .args(["-sf", "-H", &format!("Authorization: Bearer {}", secret.trim())])
            .arg(format!("{}{path}", self.server))
            .output()
            .unwrap();
        assert!(output.status.success(), "GET {path}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// A POST of `body` to the API with the secret in `token`: the HTTP status.
    pub fn post(&self, path: &str, token: &Path, body: &str) -> u16 {
        let secret = std::fs::read_to_string(token).unwrap();
        let output = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(["-H", &format!("Authorization: Bearer {}", secret.trim())])
            .args(["-H", "Content-Type: application/json", "--data", body])
            .arg(format!("{}{path}", self.server))
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap().trim().parse().unwrap()
    }

    pub fn events(&self, kind: &str) -> Vec<Value> {
        let events = self.admin(&["events", "--json", "--limit", "1000"]).json();
        events["items"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
    }

    /// The newest verdict of the branch: `merged`, `rejected`, ...
    pub fn verdict(&self) -> Option<String> {
        let status = self.status();
        status["branches"][0]["recent"][0]["state"].as_str().map(str::to_owned)
    }

    pub fn tip(&self) -> String {
        git(&self.path("home"), &self.path("remote.git"), &["rev-parse", "refs/heads/main"])
    }

    /// How often the branch moved.
    pub fn moves(&self) -> usize {
        let reflog = git(
            &self.path("home"),
            &self.path("remote.git"),
            &["reflog", "--format=%H", "refs/heads/main"],
        );
        reflog.lines().count() - 1
    }

    pub fn until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < DEADLINE,
                "{what}: not within {DEADLINE:?}\ncontroller:\n{}\na1:\n{}\na2:\n{}\na3:\n{}",
                std::fs::read_to_string(self.path("controller.log")).unwrap_or_default(),
                self.agent_log(1),
                self.agent_log(2),
                self.agent_log(3),
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        for child in self.agents.iter_mut().flatten().chain(self.controller.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const MODULE: &str = r#"version: 2
instructions:
  Build:
    - type: ExecuteCommand
      command: ["sh", "{{.SourceDir}}/build.sh"]
      maxTimeInSeconds: 120
      maxTimeBetweenOutput: 120
      userMessageOnFailure: "The build failed."
"#;

const TEST: &str = r#"  Test:
    - type: ExecuteCommand
      command: ["sh", "{{.SourceDir}}/test.sh"]
      maxTimeInSeconds: 120
      maxTimeBetweenOutput: 120
      userMessageOnFailure: "A test failed."
"#;

const PLATFORMS: &str = "Version: 2\nConfigurations:\n-\n    Id: 'linux-a'\n    Template: 'qtci-linux-Debian-12-x86_64-1'\n    Compiler: 'GCC'\n    Environment variables: ['CONFIG=linux-a']\n-\n    Id: 'linux-b'\n    Template: 'qtci-linux-Ubuntu-22.04-x86_64-51'\n    Compiler: 'GCC'\n    Environment variables: ['CONFIG=linux-b']\n";

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub fn run(command: &mut Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code().expect("exited by a signal"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `program` without the caller's `GIT_*` variables or git configuration, with `home` as HOME.
pub fn isolated(program: &str, home: &Path) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            command.env_remove(key);
        }
    }
    command.env("HOME", home).env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_CONFIG_GLOBAL", "/dev/null");
    command
}

pub fn git(home: &Path, dir: &Path, args: &[&str]) -> String {
    let output = isolated("git", home)
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.org")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.org")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}
