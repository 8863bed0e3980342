//! A controller on real git remotes (file://), a real SQLite file and real sandboxed processes.
//!
//! Two modules: `demo/lib`, and `demo/app`, which depends on it. Their scripts count their
//! runs in a folder the sandbox may write. A change with a `hold` file holds the app's build on
//! a fifo there until the test lets it go (`go`); one with `hold-test` holds its test on another
//! (`go_test`); `Setup::hold_lib` holds the lib's first build on a third (`go_lib`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tollgate_api::{ChangeView, IntegrationView, ProjectSpec, StageRequest, WorkItemState};
use tollgate_controller::{Config, ControllerError, Service};

pub const DEADLINE: Duration = Duration::from_secs(90);

pub struct Gate {
    pub tmp: TempDir,
    pub service: Option<Service>,
    pub config: Config,
    /// Where the scripts count their runs, and the fifo held builds read.
    pub marks: PathBuf,
    topics: std::cell::Cell<u32>,
    /// Each fifo's write end once it was released; kept open so that a build that opens the
    /// fifo later still finds the line.
    released: std::cell::RefCell<std::collections::HashMap<&'static str, std::fs::File>>,
}

/// Options of the app's platform configuration.
#[derive(Default)]
pub struct Setup {
    /// Features of the one configuration, e.g. `InsignificantTests`.
    pub features: &'static str,
    /// `poll_interval` of the service.
    pub poll: Option<Duration>,
    /// `maintenance_every` of the service.
    pub maintenance_every: Option<u32>,
    /// `keep_rejected` of the service.
    pub keep_rejected: Option<u32>,
    /// `flaky_reruns` of the service (Coin's 5 when left out).
    pub flaky_reruns: Option<u32>,
    /// `local_slots` of the service (2 when left out); 0 leaves every work item to agents.
    pub local_slots: Option<u32>,
    /// `admin_token_file`: `admin.token` in the test's folder, made by the service.
    pub admin_token: bool,
    /// `read_needs_token` of the service.
    pub read_needs_token: bool,
    /// The projects are added through the controller once it runs (as `tollgate project add`
    /// does), not listed in its configuration.
    pub added: bool,
    /// `base_path` of the service.
    pub base_path: &'static str,
    /// The lib's build waits for `go_lib`.
    pub hold_lib: bool,
    /// The app has a second configuration, `scarce` (compiler `Clang`), beside `linux`.
    pub scarce: bool,
    /// Changes the service's configuration before it starts.
    pub configure: Option<fn(&mut Config)>,
    /// The service reads its runtime configuration from `tollgate.toml` in the test's folder,
    /// with this text, and again when it changes.
    pub config_file: Option<&'static str>,
}

impl Gate {
    pub async fn start(setup: Setup) -> Gate {
        let tmp = TempDir::new().unwrap();
        let marks = tmp.path().join("marks");
        std::fs::create_dir_all(&marks).unwrap();
        for fifo in ["gate", "lib-gate", "test-gate"] {
            let made = Command::new("mkfifo").arg(marks.join(fifo)).status().unwrap();
            assert!(made.success());
        }
        let lib = lib_files(&marks, setup.hold_lib);
        let app = app_files(&marks, setup.features, setup.scarce);
        for (name, files) in [("demo/lib", lib), ("demo/app", app)] {
            let work = tmp.path().join("work").join(name);
            let remote = tmp.path().join("remotes").join(format!("{name}.git"));
            std::fs::create_dir_all(&work).unwrap();
            git(&work, &["init", "-q", "-b", "main"]);
            write_files(&work, &files);
            git(&work, &["add", "-A"]);
            git(&work, &["commit", "-q", "-m", "Initial"]);
            git(tmp.path(), &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
            git(&remote, &["config", "core.logAllRefUpdates", "always"]);
            git(&work, &["remote", "add", "origin", remote.to_str().unwrap()]);
            git(&work, &["push", "-q", "origin", "main"]);
        }
        let mut config = Config::new(tmp.path().join("data"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.local_slots = setup.local_slots.unwrap_or(2);
        config.poll_interval = setup.poll.unwrap_or(Duration::from_secs(3600));
        config.retry_backoff = Duration::from_millis(100);
        config.writable = vec![marks.clone()];
        if let Some(kept) = setup.keep_rejected {
            config.keep_rejected = kept;
        }
        if let Some(reruns) = setup.flaky_reruns {
            config.runtime.flaky_reruns = reruns;
        }
        if let Some(every) = setup.maintenance_every {
            config.maintenance_every = every;
        }
        if setup.admin_token {
            config.admin_token_file = Some(tmp.path().join("admin.token"));
        }
        config.read_needs_token = setup.read_needs_token;
        config.base_path = setup.base_path.to_owned();
        if let Some(configure) = setup.configure {
            configure(&mut config);
        }
        if let Some(text) = setup.config_file {
            let file = tmp.path().join("tollgate.toml");
            std::fs::write(&file, text).unwrap();
            let data_dir = config.data_dir.clone();
            config.runtime = Config::read(&file, data_dir).unwrap().runtime;
            config.file = Some(file);
        }
        config.projects = vec![
            ProjectSpec {
                name: "demo/lib".into(),
                url: url(&tmp, "demo/lib"),
                branches: vec![],
                product: None,
            },
            ProjectSpec {
                name: "demo/app".into(),
                url: url(&tmp, "demo/app"),
                branches: vec!["main".into()],
                product: None,
            },
        ];
        let added = match setup.added {
            true => std::mem::take(&mut config.projects),
            false => Vec::new(),
        };
        let service = Service::start(config.clone()).await.unwrap();
        for spec in added {
            service.controller.add_project(spec).await.unwrap();
        }
        Gate {
            tmp,
            service: Some(service),
            config,
            marks,
            topics: std::cell::Cell::new(0),
            released: Default::default(),
        }
    }

    pub fn controller(&self) -> &std::sync::Arc<tollgate_controller::Controller> {
        &self.service.as_ref().unwrap().controller
    }

    /// The URL of an API path on the running service.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.service.as_ref().unwrap().addr)
    }

    pub fn work(&self, project: &str) -> PathBuf {
        self.tmp.path().join("work").join(project)
    }

    pub fn remote(&self, project: &str) -> PathBuf {
        self.tmp.path().join("remotes").join(format!("{project}.git"))
    }

    /// A commit on top of `base` in the project's work tree, pushed to a topic branch of the
    /// remote so that it can be fetched. Its id.
    pub fn commit(
        &self,
        project: &str,
        base: &str,
        files: &[(&str, &str)],
        message: &str,
    ) -> String {
        self.commit_by(None, project, base, files, message)
    }

    /// As `commit`, by another author than `Dev` (`Name <email>`).
    pub fn commit_by(
        &self,
        author: Option<&str>,
        project: &str,
        base: &str,
        files: &[(&str, &str)],
        message: &str,
    ) -> String {
        let work = self.work(project);
        let n = self.topics.get() + 1;
        self.topics.set(n);
        git(&work, &["fetch", "-q", "origin"]);
        git(&work, &["checkout", "-q", "-B", &format!("topic-{n}"), base]);
        let files: Vec<(String, String)> =
            files.iter().map(|(path, text)| (path.to_string(), text.to_string())).collect();
        write_files(&work, &files);
        git(&work, &["add", "-A"]);
        let author = author.map(|author| format!("--author={author}"));
        let mut commit = vec!["commit", "-q", "-m", message];
        commit.extend(author.as_deref());
        git(&work, &commit);
        git(&work, &["push", "-q", "origin", &format!("topic-{n}")]);
        rev_parse(&work, "HEAD")
    }

    /// Stages commits of demo/app for main through the controller, as the API does.
    pub async fn stage(&self, commits: &[&str]) -> Vec<ChangeView> {
        let request = StageRequest {
            project: "demo/app".into(),
            branch: "main".into(),
            changes: commits.iter().map(|c| c.to_string()).collect(),
        };
        self.controller().stage(&request).await.unwrap()
    }

    /// Waits until every change has ended (merged, rejected, unstaged).
    pub async fn ended(&self, changes: &[ChangeView]) -> Vec<ChangeView> {
        let db = self.controller().db();
        within(|| async {
            let mut now = Vec::new();
            for change in changes {
                let change = db.change(change.id).await.unwrap().unwrap();
                if !change.state.is_final() {
                    return None;
                }
                now.push(change);
            }
            Some(now)
        })
        .await
    }

    pub async fn integration(&self, id: i64) -> IntegrationView {
        self.controller().db().integration_view(id, true).await.unwrap().unwrap()
    }

    /// Waits until a work item of the integration runs.
    pub async fn running(&self, integration: i64, item: &str) {
        let db = self.controller().db();
        within(|| async {
            let state = db.item_state(integration, item).await.unwrap();
            (state == Some(WorkItemState::Running)).then_some(())
        })
        .await
    }

    pub fn tip(&self, project: &str) -> String {
        rev_parse(&self.remote(project), "refs/heads/main")
    }

    /// How many times a script ran: lines in its count file.
    pub fn runs(&self, name: &str) -> usize {
        std::fs::read_to_string(self.marks.join(name)).map_or(0, |text| text.lines().count())
    }

    /// Lets held builds go on: later ones see `released`, the one waiting now (or about to)
    /// reads a line from the fifo, whose write end stays open. Opened for reading too, so that
    /// the open never waits for a reader.
    pub fn go(&self) {
        std::fs::write(self.marks.join("released"), "").unwrap();
        self.release("gate");
    }

    /// Lets a test held by `hold-test` go on.
    pub fn go_test(&self) {
        self.release("test-gate");
    }

    /// Lets the lib's held build go on.
    pub fn go_lib(&self) {
        self.release("lib-gate");
    }

    /// A line on a fifo, whose write end stays open.
    fn release(&self, fifo: &'static str) {
        use std::io::Write;
        let mut released = self.released.borrow_mut();
        let open = || {
            std::fs::OpenOptions::new().read(true).write(true).open(self.marks.join(fifo)).unwrap()
        };
        let fifo = released.entry(fifo).or_insert_with(open);
        fifo.write_all(b"go\n").unwrap();
    }

    /// How many times the remote branch moved after its creation.
    pub fn moves(&self, project: &str) -> usize {
        let out =
            git_out(&self.remote(project), &["reflog", "show", "--format=%H", "refs/heads/main"]);
        out.lines().count().saturating_sub(1)
    }

    /// The controller's bare mirror of the project.
    pub fn mirror(&self, project: &str) -> PathBuf {
        self.config.data_dir.join("mirrors").join(project)
    }

    /// The mirror's own refs (`refs/tollgate/…`), sorted.
    pub fn kept_refs(&self, project: &str) -> Vec<String> {
        let names = git_out(
            &self.mirror(project),
            &["for-each-ref", "--format=%(refname)", "refs/tollgate/"],
        );
        let mut names: Vec<String> = names.lines().map(str::to_owned).collect();
        names.sort();
        names
    }

    /// The mirror's refs that are files of their own rather than lines of `packed-refs`.
    pub fn loose_refs(&self, project: &str) -> Vec<String> {
        let mirror = self.mirror(project);
        let names = git_out(&mirror, &["for-each-ref", "--format=%(refname)"]);
        names.lines().filter(|name| mirror.join(name).is_file()).map(str::to_owned).collect()
    }

    /// The mirror's objects that are files of their own, outside any pack.
    pub fn loose_objects(&self, project: &str) -> u64 {
        let counted = git_out(&self.mirror(project), &["count-objects", "-v"]);
        let count = counted.lines().find_map(|line| line.strip_prefix("count: ")).unwrap();
        count.parse().unwrap()
    }

    /// Stops the service and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
        self.service = Some(self.start_again(self.config.clone()).await.unwrap());
    }

    /// A service on this data directory once the stopped one has let it go: its lock goes
    /// with its last task, and git's upkeep of a mirror or an HTTP connection may still be
    /// ending.
    pub async fn start_again(&self, config: Config) -> Result<Service, ControllerError> {
        let start = Instant::now();
        loop {
            match Service::start(config.clone()).await {
                Err(ControllerError::Conflict(_)) if start.elapsed() < DEADLINE => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                started => return started,
            }
        }
    }

    pub async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
    }
}

fn url(tmp: &TempDir, project: &str) -> String {
    format!("file://{}", tmp.path().join("remotes").join(format!("{project}.git")).display())
}

fn lib_files(marks: &Path, hold: bool) -> Vec<(String, String)> {
    let marks = marks.display();
    let hold = match hold {
        true => format!("read -r _ < {marks}/lib-gate\n"),
        false => String::new(),
    };
    vec![
        ("coin/module_config.yaml".into(), module_config()),
        ("coin/platform_configs/lib.yaml".into(), platforms("")),
        ("build.sh".into(), format!("echo building lib\necho run >> {marks}/lib-builds\n{hold}")),
        ("test.sh".into(), "echo lib tests pass\n".into()),
        ("lib.txt".into(), "lib\n".into()),
    ]
}

fn app_files(marks: &Path, features: &str, scarce: bool) -> Vec<(String, String)> {
    let marks = marks.display();
    let mut platforms = platforms(features);
    if scarce {
        platforms.push_str(
            "-\n    Id: 'scarce'\n    Template: 'qtci-linux-Debian-12-x86_64-1'\n    Compiler: 'Clang'\n",
        );
    }
    vec![
        ("coin/module_config.yaml".into(), module_config()),
        ("coin/platform_configs/app.yaml".into(), platforms),
        (
            "dependencies.yaml".into(),
            "dependencies:\n  ../lib:\n    ref: HEAD\n    required: true\n".into(),
        ),
        (
            "build.sh".into(),
            format!(
                "echo building app\necho run >> {marks}/app-builds\n\
                 if [ -f \"$(dirname \"$0\")/hold\" ]; then [ -e {marks}/released ] || read -r _ < {marks}/gate; fi\n\
                 if [ -f \"$(dirname \"$0\")/break-build\" ]; then echo 'app.c:1: error: broken' >&2; exit 3; fi\n"
            ),
        ),
        (
            "test.sh".into(),
            format!(
                "here=\"$(dirname \"$0\")\"\n\
                 if [ -f \"$here/hold-test\" ]; then read -r _ < {marks}/test-gate; fi\n\
                 mkdir -p \"$1\"\n\
                 echo run >> {marks}/test-runs; n=$(wc -l < {marks}/test-runs)\n\
                 fail=false\n\
                 if [ -f \"$here/break-test\" ]; then fail=true; fi\n\
                 if [ -f \"$here/flaky-test\" ] && grep -qw \"$n\" \"$here/flaky-test\"; then fail=true; fi\n\
                 if $fail; then\n\
                   echo \"<testsuite><testcase name='app_test'><failure message='expected 2, got 3'/></testcase><testcase name='app_smoke'/></testsuite>\" > \"$1/junit.xml\"\n\
                   echo 'FAIL: app_test' >&2; exit 4\n\
                 fi\n\
                 echo \"<testsuite><testcase name='app_test'/><testcase name='app_smoke'/></testsuite>\" > \"$1/junit.xml\"\n\
                 echo PASS\n"
            ),
        ),
        ("app.txt".into(), "one\ntwo\nthree\n".into()),
    ]
}

fn module_config() -> String {
    r#"version: 2
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
      userMessageOnFailure: "The build failed; the compiler output above says why."
  Test:
    - type: ScheduleUploadTestResults
    - type: ExecuteCommand
      command: ["sh", "{{.SourceDir}}/test.sh", "{{.AgentWorkingDir}}/testresults"]
      maxTimeInSeconds: 120
      maxTimeBetweenOutput: 120
      userMessageOnFailure: "A test failed."
"#
    .to_owned()
}

fn platforms(features: &str) -> String {
    let features = match features {
        "" => String::new(),
        list => format!("    Features: [{list}]\n"),
    };
    format!(
        "Version: 2\nConfigurations:\n-\n    Id: 'linux'\n    Template: 'qtci-linux-Debian-12-x86_64-1'\n    Compiler: 'GCC'\n{features}"
    )
}

fn write_files(dir: &Path, files: &[(String, String)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = git_command(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.org")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.org")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    command
}

pub fn rev_parse(dir: &Path, name: &str) -> String {
    git_out(dir, &["rev-parse", name]).trim().to_owned()
}

/// Polls `check` until it answers, or fails the test at the deadline.
pub async fn within<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "nothing happened within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
