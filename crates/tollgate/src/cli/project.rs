//! `tollgate project add`, `remove` and `list`: the projects the service knows.

use std::process::ExitCode;

use tollgate_api::{ProjectRemoved, ProjectSpec, ProjectView, RemoveProject, routes};

use super::client::{self, ServerArgs};
use super::text::{age, now_ms, table};

#[derive(clap::Args, Debug)]
pub struct ProjectArgs {
    #[command(subcommand)]
    pub command: ProjectCommand,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum ProjectCommand {
    /// Adds a project: the service mirrors it, and gates the branches named.
    Add(AddArgs),
    /// Stops gating the branches named, or the whole project: changes staged there are
    /// unstaged. Refused while one of them runs an integration (cancel it first).
    Remove(RemoveArgs),
    /// Lists the projects, their gated branches and their last fetch.
    List(ListArgs),
}

#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    pub name: String,
    /// A branch to stop gating; may be repeated. Without one, the project is forgotten (its
    /// history stays).
    #[arg(long = "branch", value_name = "BRANCH")]
    pub branches: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// The project's name in Coin's files: `qt/qtbase`.
    pub name: String,
    /// Any URL git can fetch and push: `file://`, `ssh://`, `https://`.
    pub url: String,
    /// A branch to gate; may be repeated. A project with none is only read, as a dependency.
    #[arg(long = "branch", value_name = "BRANCH")]
    pub branches: Vec<String>,
    /// The project whose `coin/platform_configs/` holds the configurations (`qt/qt5`)
    /// [default: the project's own].
    #[arg(long, value_name = "PROJECT")]
    pub product: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Prints the service's answer as JSON, as it came.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ProjectArgs) -> anyhow::Result<ExitCode> {
    client::run(&args.server, async |client| {
        match &args.command {
            ProjectCommand::Add(add) => {
                let spec = ProjectSpec {
                    name: add.name.clone(),
                    url: add.url.clone(),
                    branches: add.branches.clone(),
                    product: add.product.clone(),
                };
                let added: ProjectView = client.post(routes::PROJECTS, &spec).await?;
                client::print(&render_projects(&[added], now_ms()))?;
            }
            ProjectCommand::Remove(remove) => {
                let request = RemoveProject {
                    project: remove.name.clone(),
                    branches: remove.branches.clone(),
                };
                let removed: ProjectRemoved = client.post(routes::REMOVE_PROJECT, &request).await?;
                client::print(&render_removed(&removed))?;
            }
            ProjectCommand::List(list) if list.json => {
                client::print_json(&client.get_raw(routes::PROJECTS, &[]).await?)?;
            }
            ProjectCommand::List(_) => {
                let projects: Vec<ProjectView> = client.get(routes::PROJECTS, &[]).await?;
                client::print(&render_projects(&projects, now_ms()))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `demo/app: main is not gated any more; changes 4, 5 were unstaged`.
fn render_removed(removed: &ProjectRemoved) -> String {
    let what = match (removed.forgotten, removed.branches.as_slice()) {
        (true, []) => "removed".to_owned(),
        (true, branches) => format!("removed; {} not gated any more", branches.join(", ")),
        (false, branches) => format!("{} not gated any more", branches.join(", ")),
    };
    let unstaged = match removed.unstaged.as_slice() {
        [] => String::new(),
        [one] => format!("; change {one} was unstaged"),
        many => {
            let ids: Vec<String> = many.iter().map(ToString::to_string).collect();
            format!("; changes {} were unstaged", ids.join(", "))
        }
    };
    format!("{}: {what}{unstaged}\n", removed.project)
}

/// One row per project: name, URL, gated branches, product, last fetch.
pub fn render_projects(projects: &[ProjectView], now: i64) -> String {
    if projects.is_empty() {
        return "no projects (add one with `tollgate project add`)\n".to_owned();
    }
    let mut rows =
        vec![["PROJECT", "URL", "BRANCHES", "PRODUCT", "FETCHED"].map(String::from).to_vec()];
    for project in projects {
        let spec = &project.spec;
        let fetched = match (&project.fetch_error, project.fetched_at) {
            (Some(error), _) => format!("failed: {error}"),
            (None, Some(at)) => age(at, now),
            (None, None) => "not yet".to_owned(),
        };
        rows.push(vec![
            spec.name.clone(),
            spec.url.clone(),
            if spec.branches.is_empty() { "-".to_owned() } else { spec.branches.join(", ") },
            spec.product.clone().unwrap_or_else(|| "-".to_owned()),
            fetched,
        ]);
    }
    table(&rows, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(name: &str, branches: &[&str], product: Option<&str>) -> ProjectView {
        ProjectView {
            spec: ProjectSpec {
                name: name.into(),
                url: format!("file:///srv/git/{name}"),
                branches: branches.iter().map(|b| (*b).into()).collect(),
                product: product.map(Into::into),
            },
            fetched_at: None,
            fetch_error: None,
        }
    }

    #[test]
    fn projects_are_a_table() {
        let mut greeter = project("demo/greeter", &["dev", "release"], None);
        greeter.fetched_at = Some(0);
        let mut qtbase = project("qt/qtbase", &["dev"], Some("qt/qt5"));
        qtbase.fetch_error = Some("could not read from remote".into());
        let libgreet = project("demo/libgreet", &[], None);
        assert_eq!(
            render_projects(&[greeter, qtbase, libgreet], 180_000),
            "\
PROJECT        URL                            BRANCHES      PRODUCT  FETCHED
demo/greeter   file:///srv/git/demo/greeter   dev, release  -        3 min ago
qt/qtbase      file:///srv/git/qt/qtbase      dev           qt/qt5   failed: could not read from remote
demo/libgreet  file:///srv/git/demo/libgreet  -             -        not yet
"
        );
    }

    #[test]
    fn no_projects_says_how_to_add_one() {
        assert_eq!(render_projects(&[], 0), "no projects (add one with `tollgate project add`)\n");
    }
}
