//! Whether a checkout could write a file other than as its blob holds it.
//!
//! git converts files on checkout only as attributes ask (`eol`, `text`, `filter`, `ident`,
//! `working-tree-encoding`), except for `core.autocrlf`, which converts without any; and
//! `core.symlinks=false` writes symlinks as files. Attributes come from `.gitattributes` files
//! in the tree, `$GIT_DIR/info/attributes`, the global file (`core.attributesFile`, by default
//! `$XDG_CONFIG_HOME/git/attributes` or `~/.config/git/attributes`), the system file (read even
//! under `GIT_CONFIG_NOSYSTEM`), and a tree named by `attr.tree`. When none of these can apply,
//! a blob can be written as it is, without git.
//!
//! `filter.<driver>.*` settings are not looked at: a driver runs only for a path whose
//! attributes name it, so without attributes they are inert, and `git lfs install` puts them
//! in most global configs.

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::{GitError, command};

/// The config keys that convert on their own or bring attributes from elsewhere.
const CONFIG: &str = r"^(core\.(autocrlf|eol|symlinks|attributesfile)|attr\.tree)$";

/// What the repository's config and git's attribute files say, read once per repository.
#[derive(Debug)]
pub(crate) struct Conversions {
    /// The config, or git's age, rules out writing blobs as they are.
    by_config: bool,
    /// Attribute files outside the tree; any of them may appear at any time, so they are
    /// looked for at every checkout.
    attribute_files: Vec<PathBuf>,
}

impl Conversions {
    /// Three git processes: the config, where `info/attributes` is (a linked work tree shares
    /// its repository's), and where the system attributes file is.
    pub(crate) fn read(repo: &Path) -> Result<Conversions, GitError> {
        let config = ["config", "-z", "--get-regexp", CONFIG];
        let output = command::output(repo, &config)?;
        // `--get-regexp` exits with 1 when no key matches.
        let by_config = match output.status.code() {
            Some(0) => converts(&String::from_utf8_lossy(&output.stdout)),
            Some(1) => false,
            _ => return Err(command::failed(repo, &config, &output)),
        };
        let git_path = ["rev-parse", "--git-path", "info/attributes"];
        let info = command::run(command::git(repo), repo, &git_path)?;
        let mut attribute_files = vec![repo.join(trimmed(&info.stdout))];
        attribute_files.extend(global_attributes());
        // `git var GIT_ATTR_SYSTEM` is git 2.42's; an older git does not say where its file is.
        let system = command::output(repo, &["var", "GIT_ATTR_SYSTEM"])?;
        let system_known = system.status.success();
        if system_known && !trimmed(&system.stdout).is_empty() {
            attribute_files.push(PathBuf::from(trimmed(&system.stdout)));
        }
        Ok(Conversions { by_config: by_config || !system_known, attribute_files })
    }

    /// Whether a checkout could convert a file of any tree.
    pub(crate) fn may_apply(&self) -> Result<bool, GitError> {
        if self.by_config {
            return Ok(true);
        }
        for path in &self.attribute_files {
            match fs::metadata(path) {
                Ok(_) => return Ok(true),
                Err(error) if is_absent(&error) => {}
                Err(source) => return Err(GitError::Io { path: path.clone(), source }),
            }
        }
        Ok(false)
    }
}

fn is_absent(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// Whether `git config -z --get-regexp` output sets any key of [`CONFIG`] to a value that
/// converts: `core.autocrlf` other than false, `core.symlinks` other than true, any of the rest.
/// The last value of a key is the one in force.
fn converts(listing: &str) -> bool {
    let mut autocrlf = None;
    let mut symlinks = None;
    for entry in listing.split('\0').filter(|entry| !entry.is_empty()) {
        // `key\nvalue`, or `key` alone for a key without `=`, which is true.
        let (key, value) = match entry.split_once('\n') {
            Some((key, value)) => (key, Some(value)),
            None => (entry, None),
        };
        match key {
            "core.autocrlf" => autocrlf = Some(boolean(value)),
            "core.symlinks" => symlinks = Some(boolean(value)),
            _ => return true,
        }
    }
    let off = |setting: Option<Option<bool>>, default: bool| setting.unwrap_or(Some(default));
    off(autocrlf, false) != Some(false) || off(symlinks, true) != Some(true)
}

/// A git boolean; `None` when git would not read it as one.
fn boolean(value: Option<&str>) -> Option<bool> {
    let Some(value) = value else { return Some(true) };
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" | "" => Some(false),
        number => number.parse::<i64>().ok().map(|number| number != 0),
    }
}

/// git's default global attributes file (`core.attributesFile` unset, which [`CONFIG`]
/// checks): `$XDG_CONFIG_HOME/git/attributes`, or `$HOME/.config/git/attributes`. git runs
/// with this process's `HOME` and `XDG_CONFIG_HOME`.
fn global_attributes() -> Option<PathBuf> {
    match env::var_os("XDG_CONFIG_HOME").filter(|home| !home.is_empty()) {
        Some(config) => Some(PathBuf::from(config).join("git/attributes")),
        None => Some(PathBuf::from(env::var_os("HOME")?).join(".config/git/attributes")),
    }
}

fn trimmed(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout).trim_end_matches('\n').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settings_that_convert_count() {
        assert!(!converts(""));
        assert!(!converts("core.autocrlf\nfalse\0core.symlinks\ntrue\0"));
        assert!(!converts("core.autocrlf\nOFF\0core.symlinks\0core.autocrlf\n0\0"));
        assert!(!converts("core.autocrlf\ntrue\0core.autocrlf\nfalse\0"), "the last counts");
        assert!(converts("core.autocrlf\ninput\0"));
        assert!(converts("core.autocrlf\0"), "no value is true");
        assert!(converts("core.autocrlf\nfalse\0core.autocrlf\ntrue\0"));
        assert!(converts("core.symlinks\nfalse\0"));
        assert!(converts("core.symlinks\nmaybe\0"), "not a boolean");
        assert!(converts("core.eol\nlf\0"));
        assert!(converts("core.attributesfile\n~/attributes\0"));
        assert!(converts("attr.tree\nHEAD\0"));
    }
}
