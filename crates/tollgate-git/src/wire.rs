//! Repositories over HTTP between the controller and its agents, with git's own smart
//! protocol: the controller answers with `git upload-pack`, the agent fetches with
//! `git fetch`. Only the objects an agent lacks cross the wire, which is what makes an
//! agent's sources of a new integration cost the changed paths, not the tree.

use std::path::Path;
use std::process::Command;

use crate::GitError;
use crate::command::{git, output, run};

/// `git upload-pack --stateless-rpc` in `repo`: with `advertise`, the refs (the answer to
/// `GET info/refs`), else the answer to one `POST git-upload-pack` read from stdin.
/// `protocol` is the client's `Git-Protocol` header. Any commit may be asked for by id: an
/// agent fetches integration commits that no ref names.
pub fn upload_pack(repo: &Path, advertise: bool, protocol: Option<&str>) -> Command {
    let mut command = git(repo);
    command.args(["-c", "uploadpack.allowAnySHA1InWant=true", "upload-pack", "--stateless-rpc"]);
    if advertise {
        command.arg("--advertise-refs");
    }
    command.arg(".");
    if let Some(protocol) = protocol {
        command.env("GIT_PROTOCOL", protocol);
    }
    command
}

/// Makes `repo` hold every commit of `revisions`, fetched from `url` where missing; a bare
/// repository is made first if there is none. Each fetched commit is kept by a ref of its own
/// so that nothing collects it. `header` is sent with every request (`Authorization: …`),
/// through the environment rather than the command line, where other users could read it.
pub fn fetch_commits(
    repo: &Path,
    url: &str,
    revisions: &[String],
    header: Option<&str>,
) -> Result<(), GitError> {
    if !repo.join("HEAD").exists() {
        std::fs::create_dir_all(repo)
            .map_err(|source| GitError::Io { path: repo.to_owned(), source })?;
        run(git(repo), repo, &["init", "--quiet", "--bare", "."])?;
    }
    let mut missing = Vec::new();
    for revision in revisions {
        let object = format!("{revision}^{{commit}}");
        if !output(repo, &["cat-file", "-e", &object])?.status.success() {
            missing.push(format!("+{revision}:refs/tollgate/fetched/{revision}"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut command = git(repo);
    if let Some(header) = header {
        command
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env("GIT_CONFIG_VALUE_0", header);
    }
    let mut args = vec!["-c", "maintenance.auto=false", "-c", "gc.auto=0", "fetch", "--quiet"];
    args.extend(["--no-tags", "--no-write-fetch-head", url]);
    args.extend(missing.iter().map(String::as_str));
    run(command, repo, &args)?;
    Ok(())
}
