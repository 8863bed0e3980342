//! `tollgate serve --demo`: a real integration in a minute, on embedded defaults.
//!
//! The example project (`examples/sources/demo`) becomes two git remotes under the demo's data
//! directory; `demo/greeter` is gated on `main` and `demo/libgreet` is its dependency. Once
//! the service runs, a change is pushed to `refs/staging/main/...`, as a developer would, and
//! the service's decisions are printed as they are made.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use tollgate_api::ProjectSpec;
use tollgate_controller::{Config, Service};

/// The example project, from the source tree this binary was built from.
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sources");

pub struct Demo {
    /// demo/greeter's work tree, where the change is made.
    work: PathBuf,
    remote: PathBuf,
}

/// Makes the remotes (once) and configures the two projects.
pub fn prepare(config: &mut Config) -> anyhow::Result<Demo> {
    let examples = Path::new(EXAMPLES);
    if !examples.is_dir() {
        bail!("--demo needs the example project at {EXAMPLES}; run it from tollgate's source tree");
    }
    let remotes = config.data_dir.join("remotes");
    let works = config.data_dir.join("work-trees");
    for name in ["demo/libgreet", "demo/greeter"] {
        let remote = remotes.join(format!("{name}.git"));
        let work = works.join(name);
        if remote.exists() {
            continue;
        }
        copy_tree(&examples.join(name), &work)?;
        git(&work, &["init", "-q", "-b", "main"])?;
        git(&work, &["add", "-A"])?;
        git(&work, &["commit", "-q", "-m", &format!("Import {name}")])?;
        std::fs::create_dir_all(&remote)?;
        git(&remote, &["init", "-q", "--bare", "-b", "main"])?;
        git(&work, &["remote", "add", "origin", &remote.to_string_lossy()])?;
        git(&work, &["push", "-q", "origin", "main"])?;
    }
    let url = |name: &str| format!("file://{}", remotes.join(format!("{name}.git")).display());
    config.projects = vec![
        ProjectSpec {
            name: "demo/libgreet".into(),
            url: url("demo/libgreet"),
            branches: vec![],
            product: None,
        },
        ProjectSpec {
            name: "demo/greeter".into(),
            url: url("demo/greeter"),
            branches: vec!["main".into()],
            product: None,
        },
    ];
    Ok(Demo { work: works.join("demo/greeter"), remote: remotes.join("demo/greeter.git") })
}

impl Demo {
    /// Pushes a change to the staging namespace and prints what the service decides about it.
    pub async fn stage(self, service: &Service) -> anyhow::Result<()> {
        let db = service.controller.db().clone();
        let after = db.last_event().await?;
        git(&self.work, &["fetch", "-q", "origin"])?;
        git(&self.work, &["checkout", "-q", "-B", "main", "origin/main"])?;
        let readme = self.work.join("README");
        let mut text = std::fs::read_to_string(&readme).unwrap_or_default();
        text.push_str("Staged by tollgate serve --demo.\n");
        std::fs::write(&readme, text)?;
        git(&self.work, &["add", "README"])?;
        git(&self.work, &["commit", "-q", "-m", "Explain the demo in the README"])?;
        let name = format!("demo-{}", after + 1);
        git(&self.work, &["push", "-q", "origin", &format!("HEAD:refs/staging/main/{name}")])?;
        let address = format!("http://{}", service.addr);
        let server = match service.addr.to_string() == "127.0.0.1:8080" {
            true => String::new(),
            false => format!(" --server {address}"),
        };
        println!("tollgate demo: gating demo/greeter main ({})", self.remote.display());
        println!("  staged: a change pushed to refs/staging/main/{name}");
        println!("  watch:  {address}/   or   tollgate status{server}");
        println!("          tollgate events --follow{server}");
        println!("          tollgate log demo/greeter:debian-12:Build --follow{server}");
        println!("  stop:   Ctrl-C");
        tokio::spawn(narrate(db, after));
        Ok(())
    }
}

/// Prints the decisions of the demo's integrations as they are logged.
async fn narrate(db: tollgate_state::Db, mut after: i64) {
    loop {
        let page = db.events(None, tollgate_state::Cursor::After(after), 100).await;
        let Ok(page) = page else { return };
        for event in page.items {
            after = event.seq;
            let integration =
                event.integration.map_or(String::new(), |id| format!("integration {id}: "));
            let line = match event.kind.as_str() {
                "staged" => format!("change {}: staged", event.change.unwrap_or_default()),
                "integration_formed" => {
                    format!("{integration}formed, commit {}", event.detail["commit"])
                }
                "work_item_finished" | "work_item_reused" => format!(
                    "{integration}{} {}",
                    event.work_item.unwrap_or_default(),
                    event.detail["state"].as_str().unwrap_or("")
                ),
                "gate_decided" => format!("{integration}decided: {}", event.detail["decision"]),
                "integration_finished" => {
                    format!("{integration}{}", event.detail["state"].as_str().unwrap_or(""))
                }
                _ => continue,
            };
            println!("  {line}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        match entry.file_type()?.is_dir() {
            true => copy_tree(&entry.path(), &target)?,
            false => {
                std::fs::copy(entry.path(), &target)?;
            }
        }
    }
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "tollgate demo")
        .env("GIT_AUTHOR_EMAIL", "demo@localhost")
        .env("GIT_COMMITTER_NAME", "tollgate demo")
        .env("GIT_COMMITTER_EMAIL", "demo@localhost")
        .output()
        .context("cannot run git")?;
    if !output.status.success() {
        bail!("git {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}
