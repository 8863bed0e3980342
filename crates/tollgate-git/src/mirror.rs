//! The controller's copy of a remote: a bare repository that fetches the branches and staged
//! changes, merges them without a work tree, writes the merge commits, and moves a branch on
//! the remote by compare-and-swap.
//!
//! The controller's hot path costs no git process per step: reads (resolving a name, a
//! commit's parents, author and subject) go through the long-lived batch process of a
//! [`Repository`] on the same path, and local refs move through one long-lived
//! `update-ref --stdin`. Fetch, merge, commit and push are one git process each. A [`Mirror`]
//! is `Send + Sync`; the controller calls it from `spawn_blocking`.

use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::command;
use crate::ref_name;
use crate::refs::{RefUpdate, RefWriter};
use crate::{CommitId, GitError, Repository, TreeOid};

/// The one remote a mirror has.
const REMOTE: &str = "origin";

/// What a fetch copies: the branches, and the changes staged for them. Not tags, and not
/// `refs/tollgate/`, where the mirror keeps its own commits, so a pruning fetch never touches
/// those. Not `remote.origin.mirror` either: that would make a push send every local ref.
const FETCH: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/staging/*:refs/staging/*"];

/// The oldest git with `merge-tree --write-tree` (2.38), which [`Mirror::merge`] needs.
const MINIMUM: (u32, u32, u32) = (2, 38, 0);

/// A bare mirror of one remote, under the controller's data directory.
#[derive(Clone)]
pub struct Mirror {
    path: PathBuf,
    url: String,
    /// Reads go through the batch process of a [`Repository`] on the same path, and local ref
    /// moves through one long-lived `update-ref --stdin`: no process per read or move.
    objects: Arc<Repository>,
    refs: Arc<RefWriter>,
}

impl fmt::Debug for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mirror").field("path", &self.path).field("url", &self.url).finish()
    }
}

/// Who a commit written by the controller is by; the same for author and committer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

/// How two commits merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The merged tree, ready for [`Mirror::commit_tree`].
    Clean(TreeOid),
    /// The paths git could not merge, sorted, each once.
    Conflict(Vec<String>),
    /// The commits share no history, so there is nothing to merge against; git refuses, and so
    /// does the controller.
    Unrelated,
}

/// What became of a [`Mirror::push`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Push {
    /// The remote branch moved from the expected commit to the new one.
    Pushed,
    /// The remote branch was already at the new commit (a retried push); nothing changed.
    AlreadyThere,
    /// The remote did not move: the branch was not at the expected commit any more (`[rejected]
    /// (stale info)`), or the server refused (`[remote rejected] (<why>)`). The reason is git's.
    Rejected { reason: String },
    /// The new commit does not descend from the expected one, so moving the branch would
    /// rewrite history. Refused before contacting the remote.
    NotFastForward,
}

/// One branch to move on the remote by compare-and-swap: from `from` to `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchMove {
    pub branch: String,
    pub from: CommitId,
    pub to: CommitId,
}

/// A commit as a person reads it in a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitSummary {
    /// git's subject: the first paragraph of the message, on one line.
    pub subject: String,
    pub author: String,
}

impl Mirror {
    /// Opens the mirror at `path`, creating a bare repository there when there is none, and
    /// points remote `origin` at `url` with the fetch refspecs above. The configuration is
    /// written only where it differs, so opening again is cheap and opening with a new URL
    /// moves the mirror to it. A `pushurl` or `mirror` setting on `origin` is removed: a push
    /// must go to `url` and send one ref.
    pub fn open(path: impl Into<PathBuf>, url: &str) -> Result<Mirror, GitError> {
        // git refuses such URLs itself, but as an option they would never reach the check.
        if url.is_empty() || url.starts_with('-') {
            return Err(GitError::Invalid { what: "remote URL", name: url.to_owned() });
        }
        let path = path.into();
        if Repository::open(&path)?.is_none() {
            fs::create_dir_all(&path)
                .map_err(|source| GitError::Io { path: path.clone(), source })?;
            // No template: a mirror needs no sample hooks.
            let init = ["init", "--bare", "--quiet", "--template="];
            command::run(command::git(&path), &path, &init)?;
        }
        let objects = Repository::open(&path)?.ok_or_else(|| GitError::Io {
            path: path.clone(),
            source: std::io::Error::other("not a git repository after `git init`"),
        })?;
        let refs = Arc::new(RefWriter::new(path.clone()));
        let mirror = Mirror { path, url: url.to_owned(), objects: Arc::new(objects), refs };
        mirror.configure_remote()?;
        Ok(mirror)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Brings the branches and staged changes up to date with the remote, removing those the
    /// remote no longer has. The refspecs are given on the command line, so a hand-edited
    /// configuration cannot widen what a fetch overwrites or prunes.
    ///
    /// git's own upkeep after a fetch (`maintenance.auto`, a detached `gc --auto`) is off:
    /// [`Mirror::maintain`] does it, at a time the controller chooses and never twice at once.
    pub fn fetch(&self) -> Result<(), GitError> {
        let mut args = vec!["-c", "maintenance.auto=false", "fetch", "--quiet", "--prune"];
        args.extend(["--no-tags", "--no-write-fetch-head"]);
        args.push(REMOTE);
        args.extend(FETCH);
        self.run(&args)?;
        if self.resolve("HEAD")?.is_none() {
            self.follow_remote_head()?;
        }
        Ok(())
    }

    /// Points the mirror's `HEAD` at the branch the remote's `HEAD` names, as a clone would:
    /// dependency pins such as `ref: HEAD` read it. Asked only while `HEAD` leads nowhere (a
    /// new mirror), since it costs a round trip.
    fn follow_remote_head(&self) -> Result<(), GitError> {
        let output = self.run(&["ls-remote", "--symref", REMOTE, "HEAD"])?;
        let text = String::from_utf8_lossy(&output.stdout);
        let branch = text.lines().find_map(|line| {
            let target = line.strip_prefix("ref: ")?.strip_suffix("\tHEAD")?;
            target.starts_with("refs/heads/").then(|| target.to_owned())
        });
        if let Some(branch) = branch {
            self.run(&["symbolic-ref", "HEAD", &branch])?;
        }
        Ok(())
    }

    /// The refs under `prefix` (a folder such as `refs/staging/`) that lead to a commit, with
    /// that commit, sorted by name. An annotated tag counts as the commit it tags; a ref to a
    /// tree or a blob is left out.
    pub fn refs(&self, prefix: &str) -> Result<Vec<(String, CommitId)>, GitError> {
        // A prefix outside `refs/` would be read as an option or match nothing.
        if !prefix.starts_with("refs/") {
            return Err(GitError::Invalid { what: "ref prefix", name: prefix.to_owned() });
        }
        let format =
            "--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)";
        let output = self.run(&["for-each-ref", format, prefix])?;
        let listing = String::from_utf8_lossy(&output.stdout);
        let mut refs = Vec::new();
        for line in listing.lines() {
            let fields: Vec<&str> = line.split('\0').collect();
            let [name, kind, id, peeled_kind, peeled_id] = fields[..] else {
                return Err(self.odd_output("for-each-ref", line));
            };
            // git matches a pattern as a whole folder; a literal prefix is what the caller means.
            if !name.starts_with(prefix) {
                continue;
            }
            let commit = match (kind, peeled_kind) {
                ("commit", _) => CommitId::parse(id),
                ("tag", "commit") => CommitId::parse(peeled_id),
                // A tag of a tag: git 2.39 peels `*` fields one level, 2.47 all the way.
                ("tag", "tag") => match self.resolve(name)? {
                    Some(commit) => Some(commit),
                    None => continue,
                },
                _ => continue,
            };
            let commit = commit.ok_or_else(|| self.odd_output("for-each-ref", line))?;
            refs.push((name.to_owned(), commit));
        }
        refs.sort();
        Ok(refs)
    }

    /// The commit `name` names: a full or abbreviated id, a full ref, a branch. `None` when it
    /// names no commit, is ambiguous or malformed, or starts with `-` (which git would read as
    /// an option).
    pub fn resolve(&self, name: &str) -> Result<Option<CommitId>, GitError> {
        self.objects.rev_parse_commit(name)
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors. An unknown commit is an
    /// error: the caller asks about commits it has fetched.
    pub fn is_ancestor(
        &self,
        ancestor: &CommitId,
        descendant: &CommitId,
    ) -> Result<bool, GitError> {
        // The usual question, whether a change or a merge sits right on the tip, is answered
        // from the commit itself; only longer histories need a walk.
        if ancestor == descendant {
            return Ok(true);
        }
        if let Some(info) = self.objects.commit_info(descendant)?
            && info.parents.contains(ancestor)
        {
            return Ok(true);
        }
        let args = ["merge-base", "--is-ancestor", ancestor.as_str(), descendant.as_str()];
        let output = command::output(&self.path, &args)?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(command::failed(&self.path, &args, &output)),
        }
    }

    /// Merges `theirs` into `ours` as `git merge` would, without a work tree or an index:
    /// `merge-tree --write-tree` writes the merged tree into the object store and names it.
    /// Nothing else changes, so merges can run side by side.
    pub fn merge(&self, ours: &CommitId, theirs: &CommitId) -> Result<Merge, GitError> {
        // `-z`: paths unquoted, NUL after each. Without messages, everything after the tree is
        // a conflicted path.
        let args = [
            "merge-tree",
            "--write-tree",
            "-z",
            "--name-only",
            "--no-messages",
            ours.as_str(),
            theirs.as_str(),
        ];
        let output = command::output(&self.path, &args)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut fields = stdout.split('\0');
        let tree = fields.next().and_then(TreeOid::parse);
        match (output.status.code(), tree) {
            (Some(0), Some(tree)) => Ok(Merge::Clean(tree)),
            (Some(1), Some(_)) => {
                let mut paths: Vec<String> =
                    fields.filter(|path| !path.is_empty()).map(str::to_owned).collect();
                paths.sort();
                paths.dedup();
                Ok(Merge::Conflict(paths))
            }
            (Some(0), None) => Err(self.odd_output("merge-tree", &stdout)),
            _ => {
                // git refuses unrelated histories with its fatal status, and an unknown commit
                // with status 1 and no tree. `merge-base` tells the first apart without reading
                // messages: it exits 1 when there is no merge base.
                let probe = ["merge-base", ours.as_str(), theirs.as_str()];
                match command::output(&self.path, &probe) {
                    Ok(probed) if probed.status.code() == Some(1) => Ok(Merge::Unrelated),
                    _ => Err(command::failed(&self.path, &args, &output)),
                }
            }
        }
    }

    /// Writes a commit of `tree` with `parents` in order (the first is the branch the merge
    /// lands on). Author and committer are `identity` at `time` (seconds since the epoch, UTC),
    /// so the same inputs give the same commit id: a controller that restarts mid-integration
    /// writes the commit it wrote before. Signing (`commit.gpgSign`) is off and the message is
    /// stored as UTF-8 whatever the user's configuration says, for the same reason. The
    /// message gets a final newline if it lacks one, as `git commit` does.
    pub fn commit_tree(
        &self,
        tree: &TreeOid,
        parents: &[CommitId],
        message: &str,
        identity: &Identity,
        time: i64,
    ) -> Result<CommitId, GitError> {
        let mut args = vec!["-c", "i18n.commitEncoding=UTF-8", "commit-tree", "--no-gpg-sign"];
        for parent in parents {
            args.extend(["-p", parent.as_str()]);
        }
        args.extend(["-m", message, tree.as_str()]);
        let date = format!("@{time} +0000");
        let mut git = command::git(&self.path);
        git.env("GIT_AUTHOR_NAME", &identity.name)
            .env("GIT_AUTHOR_EMAIL", &identity.email)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_NAME", &identity.name)
            .env("GIT_COMMITTER_EMAIL", &identity.email)
            .env("GIT_COMMITTER_DATE", &date);
        let output = command::run(git, &self.path, &args)?;
        let id = String::from_utf8_lossy(&output.stdout);
        CommitId::parse(id.trim()).ok_or_else(|| self.odd_output("commit-tree", &id))
    }

    /// Points the local ref `name` (a full name, such as `refs/tollgate/integrations/42`) at
    /// `commit`, which keeps the commit and its history from garbage collection.
    pub fn set_ref(&self, name: &str, commit: &CommitId) -> Result<(), GitError> {
        let to = commit.as_str().to_owned();
        self.refs.apply(&[RefUpdate::Set { name: name.to_owned(), to, from: None }])
    }

    /// Removes the local ref `name`; a ref that is not there is already removed.
    pub fn delete_ref(&self, name: &str) -> Result<(), GitError> {
        self.delete_refs(&[name.to_owned()])
    }

    /// Removes the local refs `names` in one transaction, through the same long-lived
    /// `update-ref` as every other local ref move; refs that are not there are already removed.
    /// The commits they named stay in the object store (nothing here prunes objects).
    pub fn delete_refs(&self, names: &[String]) -> Result<(), GitError> {
        let updates: Vec<RefUpdate> =
            names.iter().map(|name| RefUpdate::Delete { name: name.clone() }).collect();
        self.refs.apply(&updates)
    }

    /// git's upkeep of the mirror, which keeps its commands as fast after years as on the first
    /// day: loose refs packed into `packed-refs`, loose objects and small packs rolled into
    /// packs that grow geometrically (so there are a few, whatever the age), and the
    /// commit-graph written (history walks, such as a merge's merge base, read it instead of
    /// every commit). Slow on a large mirror: call it off the request path, one at a time per
    /// mirror.
    ///
    /// Safe beside fetches, merges and pushes: `pack-refs` takes git's ref locks as any ref
    /// update does (and git retries a held lock briefly), a geometric repack packs every loose
    /// object whether a ref names it or not and deletes only what it has packed, and the
    /// commit-graph is replaced by a rename. So an object a merge has just written and no ref
    /// names yet stays. For the same reason nothing is pruned: there is no `gc`, and the
    /// commits of rejected integrations stay, packed.
    pub fn maintain(&self) -> Result<(), GitError> {
        self.run(&["pack-refs", "--all"])?;
        self.run(&["repack", "-d", "-q", "--geometric=2"])?;
        self.run(&["commit-graph", "write", "--reachable", "--no-progress"])?;
        Ok(())
    }

    /// Moves `branch` on the remote from `expected` to `commit`, or not at all: [`Mirror::push_all`]
    /// for one branch.
    pub fn push(
        &self,
        commit: &CommitId,
        branch: &str,
        expected: &CommitId,
    ) -> Result<Push, GitError> {
        let moves =
            [BranchMove { branch: branch.to_owned(), from: expected.clone(), to: commit.clone() }];
        let mut pushed = self.push_all(&moves)?;
        pushed.pop().expect("one answer per move")
    }

    /// Moves each branch on the remote from its `from` to its `to`, or not at all, in one
    /// `git push`: one connection and one pack for all of them. Each branch succeeds or fails
    /// on its own (no `--atomic`); the answers come in the order of `moves`.
    ///
    /// `--force-with-lease` with an explicit old value makes the server's receive-pack compare
    /// and swap: the update carries `from`, and the ref is locked and checked before it moves,
    /// so a branch that moved since is never overwritten. A lease also permits a
    /// non-fast-forward, which the controller never wants, so `to` must descend from `from`
    /// first ([`Push::NotFastForward`] otherwise, and that branch is not sent).
    ///
    /// After a push, the mirror's own `refs/heads/<branch>` is set to `to` as well, as the next
    /// fetch would. An `Err` means the outcome is unknown (the remote was not reachable, the
    /// connection broke, the server did not report), for every branch when the outer one, for
    /// that branch when the inner one: [`Mirror::remote_branch`] says where it is.
    pub fn push_all(&self, moves: &[BranchMove]) -> Result<Vec<Result<Push, GitError>>, GitError> {
        let mut targets = Vec::with_capacity(moves.len());
        for (n, step) in moves.iter().enumerate() {
            let target = self.branch_ref(&step.branch)?;
            if moves[..n].iter().any(|earlier| earlier.branch == step.branch) {
                return Err(GitError::Invalid {
                    what: "push of the same branch twice",
                    name: target,
                });
            }
            targets.push(target);
        }
        let mut answers: Vec<Option<Result<Push, GitError>>> = Vec::with_capacity(moves.len());
        let mut args = vec!["push".to_owned(), "--porcelain".to_owned()];
        let mut refspecs = Vec::new();
        for (step, target) in moves.iter().zip(&targets) {
            if self.is_ancestor(&step.from, &step.to)? {
                args.push(format!("--force-with-lease={target}:{}", step.from));
                refspecs.push(format!("{}:{target}", step.to));
                answers.push(None);
            } else {
                answers.push(Some(Ok(Push::NotFastForward)));
            }
        }
        if refspecs.is_empty() {
            return Ok(answers.into_iter().flatten().collect());
        }
        args.push(REMOTE.to_owned());
        args.extend(refspecs);
        let output = command::output(&self.path, &args)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut moved = Vec::new();
        for ((answer, step), target) in answers.iter_mut().zip(moves).zip(&targets) {
            if answer.is_some() {
                continue;
            }
            let pushed = match porcelain_status(&stdout, target) {
                // git reports "up to date" before it looks at the lease: a retried push.
                Some(("=", _)) => Ok(Push::AlreadyThere),
                // A fast-forward; `+` (forced) and `*` (new) cannot pass the lease and the
                // ancestry check, but would still mean the branch is now at `to`.
                Some((" " | "+" | "*", _)) => Ok(Push::Pushed),
                // The server took the pack but did not say whether the ref moved: unknown.
                Some(("!", summary)) if summary.starts_with("[remote failure]") => {
                    Err(command::failed(&self.path, &args, &output))
                }
                Some(("!", summary)) => Ok(Push::Rejected { reason: summary.to_owned() }),
                Some(_) => Err(self.odd_output("push", &stdout)),
                // No line for the branch: git stopped before reporting it.
                None if output.status.success() => Err(self.odd_output("push", &stdout)),
                None => Err(command::failed(&self.path, &args, &output)),
            };
            if matches!(pushed, Ok(Push::Pushed | Push::AlreadyThere)) {
                let to = step.to.as_str().to_owned();
                moved.push(RefUpdate::Set { name: target.clone(), to, from: None });
            }
            *answer = Some(pushed);
        }
        self.refs.apply(&moved)?;
        Ok(answers.into_iter().map(|answer| answer.expect("answered above")).collect())
    }

    /// Where `branch` is on the remote now, asked of the remote itself; `None` when the remote
    /// has no such branch.
    pub fn remote_branch(&self, branch: &str) -> Result<Option<CommitId>, GitError> {
        let target = self.branch_ref(branch)?;
        let output = self.run(&["ls-remote", REMOTE, &target])?;
        let listing = String::from_utf8_lossy(&output.stdout);
        // ls-remote matches the pattern against the tail of each name (`refs/heads/main` also
        // matches `refs/heads/x/refs/heads/main`): keep the exact name only.
        for line in listing.lines() {
            if let Some((id, name)) = line.split_once('\t')
                && name == target
            {
                return CommitId::parse(id)
                    .map(Some)
                    .ok_or_else(|| self.odd_output("ls-remote", line));
            }
        }
        Ok(None)
    }

    /// Whether the mirror has `branch`, as of its last fetch.
    pub fn has_branch(&self, branch: &str) -> Result<bool, GitError> {
        Ok(self.resolve(&self.branch_ref(branch)?)?.is_some())
    }

    /// Removes staging refs (`refs/staging/…`) from the remote in one push, each only while it
    /// still names the commit given with it: a developer who pushed another commit there
    /// meanwhile keeps it. Answers, for each, whether it was removed.
    pub fn delete_staging_refs(&self, refs: &[(String, CommitId)]) -> Result<Vec<bool>, GitError> {
        let mut args = vec!["push".to_owned(), "--porcelain".to_owned()];
        for (name, expected) in refs {
            if !name.starts_with("refs/staging/") || !ref_name::is_valid_ref_name(name) {
                return Err(GitError::Invalid { what: "staging ref", name: name.clone() });
            }
            args.push(format!("--force-with-lease={name}:{expected}"));
        }
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        args.push(REMOTE.to_owned());
        args.extend(refs.iter().map(|(name, _)| format!(":{name}")));
        let output = command::output(&self.path, &args)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut gone = Vec::new();
        let mut answers = Vec::new();
        for (name, _) in refs {
            let answer = match porcelain_status(&stdout, name) {
                Some(("-", _)) => true,
                // Moved meanwhile (the lease failed), or gone already.
                Some(("!", _)) => false,
                Some(_) => return Err(self.odd_output("push", &stdout)),
                None => return Err(command::failed(&self.path, &args, &output)),
            };
            if answer {
                gone.push(RefUpdate::Delete { name: name.clone() });
            }
            answers.push(answer);
        }
        self.refs.apply(&gone)?;
        Ok(answers)
    }

    /// The subject and author of `commit`, for display; `None` when the mirror has no such
    /// commit.
    pub fn describe(&self, commit: &CommitId) -> Result<Option<CommitSummary>, GitError> {
        let info = self.objects.commit_info(commit)?;
        Ok(info.map(|info| CommitSummary { subject: info.subject, author: info.author }))
    }

    /// Sets `origin`'s URL and fetch refspecs where they differ from what is wanted.
    fn configure_remote(&self) -> Result<(), GitError> {
        let args = ["config", "--local", "-z", "--get-regexp", r"^remote\.origin\."];
        let output = command::output(&self.path, &args)?;
        // Status 1: no such settings yet.
        if !output.status.success() && output.status.code() != Some(1) {
            return Err(command::failed(&self.path, &args, &output));
        }
        // `<key>\n<value>\0`, or `<key>\0` for a key without a value; keys are lowercase.
        let listing = String::from_utf8_lossy(&output.stdout);
        let settings: Vec<(&str, &str)> = listing
            .split('\0')
            .filter(|entry| !entry.is_empty())
            .map(|entry| entry.split_once('\n').unwrap_or((entry, "")))
            .collect();
        let values = |key: &str| -> Vec<&str> {
            settings.iter().filter(|(k, _)| *k == key).map(|(_, v)| *v).collect()
        };
        if values("remote.origin.url") != [self.url.as_str()] {
            self.run(&["config", "--local", "--replace-all", "remote.origin.url", &self.url])?;
        }
        if values("remote.origin.fetch") != FETCH {
            let [first, rest @ ..] = FETCH;
            self.run(&["config", "--local", "--replace-all", "remote.origin.fetch", first])?;
            for refspec in rest {
                self.run(&["config", "--local", "--add", "remote.origin.fetch", refspec])?;
            }
        }
        for key in ["remote.origin.mirror", "remote.origin.pushurl"] {
            if !values(key).is_empty() {
                self.run(&["config", "--local", "--unset-all", key])?;
            }
        }
        Ok(())
    }

    /// `refs/heads/<branch>`, when git accepts it as a ref name: no spaces, `:`, `*`, `..` and
    /// the like, which would change the meaning of a refspec or an `ls-remote` pattern.
    fn branch_ref(&self, branch: &str) -> Result<String, GitError> {
        ref_name::branch_ref(branch)
            .ok_or_else(|| GitError::Invalid { what: "branch name", name: branch.to_owned() })
    }

    fn run(&self, args: &[&str]) -> Result<std::process::Output, GitError> {
        command::run(command::git(&self.path), &self.path, args)
    }

    fn odd_output(&self, command: &str, output: &str) -> GitError {
        GitError::Output {
            repo: self.path.clone(),
            command: command.to_owned(),
            output: output.to_owned(),
        }
    }
}

/// The flag and summary of `target`'s line in `push --porcelain` output:
/// `<flag>\t<source>:<destination>\t<summary>`, for instance
/// `!\t<id>:refs/heads/main\t[rejected] (stale info)`. `None` when git printed no line for it.
fn porcelain_status<'a>(stdout: &'a str, target: &str) -> Option<(&'a str, &'a str)> {
    stdout.lines().find_map(|line| {
        let mut fields = line.splitn(3, '\t');
        let flag = fields.next()?;
        let (_, destination) = fields.next()?.split_once(':')?;
        let summary = fields.next().unwrap_or("");
        (destination == target).then_some((flag, summary))
    })
}

/// The version of the git on `PATH`, checked at startup: an `Err` names the version and where
/// it was found when it is older than the commands here need (`merge-tree --write-tree`).
pub fn check_version() -> Result<(u32, u32, u32), GitError> {
    let here = Path::new("/");
    let output = command::run(command::git(here), here, &["--version"])?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let odd = || GitError::Output {
        repo: here.to_owned(),
        command: "--version".to_owned(),
        output: text.clone(),
    };
    let found = text.strip_prefix("git version ").ok_or_else(odd)?;
    let version = parse_version(found).ok_or_else(odd)?;
    if version < MINIMUM {
        return Err(too_old(found, git_on_path()));
    }
    Ok(version)
}

fn too_old(found: &str, path: PathBuf) -> GitError {
    let (major, minor, _) = MINIMUM;
    GitError::Version {
        needed: format!("{major}.{minor}"),
        feature: "`merge-tree --write-tree`",
        found: found.to_owned(),
        path,
    }
}

/// `2.47.3`, `2.39.5.windows.1`, `2.40.0-rc1`, `2.45.GIT` (a build from a source tree): the
/// leading digits of the first three parts; a missing patch level is 0.
fn parse_version(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.split('.').map(|part| {
        let digits = part.bytes().take_while(u8::is_ascii_digit).count();
        part[..digits].parse::<u32>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// The `git` that `Command::new("git")` runs: the first executable file of that name on
/// `PATH`.
fn git_on_path() -> PathBuf {
    let executable = |path: &PathBuf| {
        fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("git")).find(executable))
        .unwrap_or_else(|| PathBuf::from("git"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_what_git_prints() {
        assert_eq!(parse_version("2.47.3"), Some((2, 47, 3)));
        assert_eq!(parse_version("2.39.5.windows.1"), Some((2, 39, 5)));
        assert_eq!(parse_version("2.40.0-rc1"), Some((2, 40, 0)));
        assert_eq!(parse_version("2.45.GIT"), Some((2, 45, 0)));
        assert_eq!(parse_version("3.0"), Some((3, 0, 0)));
        assert_eq!(parse_version("two"), None);
        assert_eq!(parse_version("2"), None);
    }

    #[test]
    fn an_old_git_is_named_with_its_path() {
        assert!(parse_version("2.37.1").unwrap() < MINIMUM);
        assert!(parse_version("2.38.0").unwrap() >= MINIMUM);
        let error = too_old("2.37.1", PathBuf::from("/usr/bin/git"));
        assert_eq!(
            error.to_string(),
            "tollgate needs git 2.38 or newer for `merge-tree --write-tree`; \
             found 2.37.1 at /usr/bin/git"
        );
    }

    #[test]
    fn porcelain_lines_are_found_by_destination() {
        let id = "8dc9eb1a023a5a79b9d54575fdf4a3573f194d8f";
        let stdout = format!(
            "To file:///remote.git\n!\t{id}:refs/heads/main\t[rejected] (stale info)\nDone\n"
        );
        assert_eq!(
            porcelain_status(&stdout, "refs/heads/main"),
            Some(("!", "[rejected] (stale info)"))
        );
        assert_eq!(porcelain_status(&stdout, "refs/heads/mai"), None);
        let stdout = format!("To /remote.git\n \t{id}:refs/heads/dev\t43ac1be..8dc9eb1\nDone\n");
        assert_eq!(porcelain_status(&stdout, "refs/heads/dev"), Some((" ", "43ac1be..8dc9eb1")));
        assert_eq!(porcelain_status("", "refs/heads/dev"), None);
    }
}
