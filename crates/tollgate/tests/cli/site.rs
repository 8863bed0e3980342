//! A one-module project on a bare remote, gated by a `tollgate serve` the test starts, and
//! driven by the CLI as a maintainer does.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::support::{Run, isolated, path_str, run};

pub(crate) const DEADLINE: Duration = Duration::from_secs(90);

/// A one-module project on a bare remote, a data directory, and a configuration file.
pub(crate) struct Site {
    pub(crate) tmp: TempDir,
    pub(crate) server: String,
    pub(crate) config: PathBuf,
    /// The write end of the fifo held builds read, once `go` opened it.
    released: std::cell::OnceCell<std::fs::File>,
}

impl Site {
    pub(crate) fn new() -> Site {
        Site::with_module(MODULE)
    }

    /// A site whose project has `module` as its `coin/module_config.yaml`.
    pub(crate) fn with_module(module: &str) -> Site {
        let tmp = TempDir::new().unwrap();
        let marks = tmp.path().join("marks");
        let work = tmp.path().join("work");
        let remote = tmp.path().join("remote.git");
        for dir in [&marks, &work, &tmp.path().join("home")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        assert!(Command::new("mkfifo").arg(marks.join("gate")).status().unwrap().success());
        let files = [
            ("coin/module_config.yaml", module.to_owned()),
            ("coin/platform_configs/app.yaml", PLATFORMS.to_owned()),
            (
                "build.sh",
                format!(
                    "echo building app\necho run >> {m}/builds\n\
                     if [ -f \"$(dirname \"$0\")/hold\" ]; then [ -e {m}/released ] || read -r _ < {m}/gate; fi\n",
                    m = marks.display()
                ),
            ),
        ];
        for (path, text) in files {
            let path = work.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let site_git = |dir: &Path, args: &[&str]| git(tmp.path(), dir, args);
        site_git(&work, &["init", "-q", "-b", "main"]);
        site_git(&work, &["add", "-A"]);
        site_git(&work, &["commit", "-q", "-m", "Initial"]);
        site_git(tmp.path(), &["init", "-q", "--bare", "-b", "main", path_str(&remote)]);
        site_git(&remote, &["config", "core.logAllRefUpdates", "always"]);
        site_git(&work, &["remote", "add", "origin", path_str(&remote)]);
        site_git(&work, &["push", "-q", "origin", "main"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = tmp.path().join("tollgate.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\nslots = 2\npoll_interval = \"1h\"\nwritable = [\"{}\"]\n\n\
                 [[project]]\nname = \"demo/app\"\nurl = \"file://{}\"\nbranches = [\"main\"]\n",
                marks.display(),
                remote.display()
            ),
        )
        .unwrap();
        Site {
            tmp,
            server: format!("http://127.0.0.1:{port}"),
            config,
            released: std::cell::OnceCell::new(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// A commit on main with `files`, pushed to a topic branch.
    pub(crate) fn change(&self, topic: &str, files: &[&str]) -> String {
        let work = self.path("work");
        for file in files {
            std::fs::write(work.join(file), "").unwrap();
        }
        git(self.tmp.path(), &work, &["checkout", "-q", "-B", topic, "main"]);
        git(self.tmp.path(), &work, &["add", "-A"]);
        git(self.tmp.path(), &work, &["commit", "-q", "-m", &format!("Change {topic}")]);
        git(self.tmp.path(), &work, &["push", "-q", "origin", topic]);
        let sha = git(self.tmp.path(), &work, &["rev-parse", "HEAD"]);
        git(self.tmp.path(), &work, &["checkout", "-q", "main"]);
        sha
    }

    /// Lets held builds go on: later ones see `released`; one waiting now reads a line from the
    /// fifo, whose write end stays open (and is opened for reading too, so never waits).
    pub(crate) fn go(&self) {
        use std::io::Write;
        std::fs::write(self.path("marks/released"), "").unwrap();
        let open = || {
            let gate = self.path("marks/gate");
            std::fs::OpenOptions::new().read(true).write(true).open(gate).unwrap()
        };
        let mut fifo = self.released.get_or_init(open);
        fifo.write_all(b"go\n").unwrap();
    }

    pub(crate) fn serve(&self) -> Child {
        self.serve_with(&[
            "--config",
            path_str(&self.config),
            "--data-dir",
            path_str(&self.path("data")),
        ])
    }

    /// `tollgate serve ARGS`, started in the site's folder.
    pub(crate) fn serve_with(&self, args: &[&str]) -> Child {
        let child = self
            .tollgate_command(&[&["serve"], args].concat())
            .current_dir(self.tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.until(|| self.cli(&["status", "--json"]).code == 0);
        child
    }

    pub(crate) fn tollgate_command(&self, args: &[&str]) -> Command {
        let mut command = isolated(env!("CARGO_BIN_EXE_tollgate"), &self.path("home"));
        command.args(args).env("TOLLGATE_SERVER", &self.server).env_remove("TOLLGATE_TOKEN");
        command
    }

    pub(crate) fn cli(&self, args: &[&str]) -> Run {
        run(&mut self.tollgate_command(args))
    }

    pub(crate) fn status(&self) -> Value {
        let status = self.cli(&["status", "--json"]);
        assert_eq!(status.code, 0, "{}", status.stderr);
        status.json()
    }

    pub(crate) fn events(&self, kind: &str) -> Vec<Value> {
        let events = self.cli(&["events", "--json", "--limit", "1000"]).json();
        events["items"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
    }

    pub(crate) fn builds(&self) -> usize {
        std::fs::read_to_string(self.path("marks/builds")).map_or(0, |text| text.lines().count())
    }

    pub(crate) fn tip(&self) -> String {
        git(self.tmp.path(), &self.path("remote.git"), &["rev-parse", "refs/heads/main"])
    }

    pub(crate) fn moves(&self) -> usize {
        let reflog = git(
            self.tmp.path(),
            &self.path("remote.git"),
            &["reflog", "--format=%H", "refs/heads/main"],
        );
        reflog.lines().count() - 1
    }

    pub(crate) fn until(&self, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < DEADLINE, "nothing happened within {DEADLINE:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub(crate) const MODULE: &str = r#"version: 2
accept_configuration:
  condition: property
  property: host.os
  equals_value: Linux
instructions:
  Build:
    - type: ExecuteCommand
      command: ["sh", "{{.SourceDir}}/build.sh"]
      maxTimeInSeconds: 120
      maxTimeBetweenOutput: 120
      userMessageOnFailure: "The build failed."
"#;

const PLATFORMS: &str = "Version: 2\nConfigurations:\n-\n    Id: 'linux'\n    Template: 'qtci-linux-Debian-12-x86_64-1'\n    Compiler: 'GCC'\n";

pub(crate) fn git(tmp: &Path, dir: &Path, args: &[&str]) -> String {
    let output = isolated("git", &tmp.join("home"))
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
