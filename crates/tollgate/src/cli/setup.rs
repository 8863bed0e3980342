//! What `serve --demo` needs from this machine, installed with Debian's `apt-get` when it is
//! missing, as the test command does: a new user's first command must not stop at "install
//! bubblewrap first".

use std::process::Command;

use anyhow::{Context, bail};
use tollgate_runner::sandbox::find_in_path;

/// The programs the demo runs, each with the Debian package that has it.
pub const DEMO: [(&str, &str); 4] =
    [("git", "git"), ("make", "make"), ("cc", "gcc"), ("bwrap", "bubblewrap")];

/// How what is missing gets installed.
#[derive(Debug, PartialEq, Eq)]
enum Install {
    Nothing,
    /// `apt-get` as this user (root), or through `sudo -n`.
    Apt {
        sudo: bool,
        packages: Vec<&'static str>,
    },
    /// It cannot be done from here: what to tell the user.
    Manual(String),
}

/// Installs the packages of `needs` whose program is not on `PATH`.
pub fn ensure(needs: &[(&'static str, &'static str)]) -> anyhow::Result<()> {
    let missing: Vec<&'static str> = needs
        .iter()
        .filter(|(program, _)| find_in_path(program).is_none())
        .map(|&(_, package)| package)
        .collect();
    let root = rustix::process::geteuid().is_root();
    let apt = find_in_path("apt-get").is_some();
    let sudo = find_in_path("sudo").is_some();
    match decide(missing, root, apt, sudo) {
        Install::Nothing => Ok(()),
        Install::Manual(message) => bail!(message),
        Install::Apt { sudo, packages } => {
            eprintln!("tollgate: installing {} (apt-get)", packages.join(" "));
            if apt_get(sudo, &["install", "-y", "-qq"], &packages).is_err() {
                // A fresh machine's package lists may be empty or old.
                apt_get(sudo, &["update", "-qq"], &[])?;
                apt_get(sudo, &["install", "-y", "-qq"], &packages)?;
            }
            Ok(())
        }
    }
}

fn decide(missing: Vec<&'static str>, root: bool, apt: bool, sudo: bool) -> Install {
    if missing.is_empty() {
        return Install::Nothing;
    }
    let list = missing.join(" ");
    match (apt, root, sudo) {
        (true, true, _) => Install::Apt { sudo: false, packages: missing },
        (true, false, true) => Install::Apt { sudo: true, packages: missing },
        (true, false, false) => Install::Manual(format!(
            "this machine lacks {list}; install them as root: apt-get install -y {list}"
        )),
        (false, _, _) => Install::Manual(format!(
            "this machine lacks {list} and has no apt-get; install them with its package manager"
        )),
    }
}

fn apt_get(sudo: bool, args: &[&str], packages: &[&str]) -> anyhow::Result<()> {
    let mut command = match sudo {
        // `-n`: never wait for a password nobody will type.
        true => {
            let mut command = Command::new("sudo");
            command.args(["-n", "apt-get"]);
            command
        }
        false => Command::new("apt-get"),
    };
    command.args(args).args(packages).env("DEBIAN_FRONTEND", "noninteractive");
    let status = command.status().context("cannot start apt-get")?;
    if !status.success() {
        bail!(
            "apt-get {} {} failed ({status}); install them by hand: apt-get install -y {}",
            args.join(" "),
            packages.join(" "),
            packages.join(" ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_missing_is_installed_with_apt_as_root_or_through_sudo_and_named_otherwise() {
        assert_eq!(decide(vec![], false, false, false), Install::Nothing);
        let missing = || vec!["bubblewrap", "gcc"];
        assert_eq!(
            decide(missing(), true, true, true),
            Install::Apt { sudo: false, packages: missing() }
        );
        assert_eq!(
            decide(missing(), false, true, true),
            Install::Apt { sudo: true, packages: missing() }
        );
        assert_eq!(
            decide(missing(), false, true, false),
            Install::Manual(
                "this machine lacks bubblewrap gcc; install them as root: apt-get install -y bubblewrap gcc"
                    .into()
            )
        );
        let Install::Manual(message) = decide(missing(), true, false, true) else { panic!() };
        assert!(message.contains("has no apt-get"), "{message}");
    }

    #[test]
    fn on_this_machine_the_demo_has_what_it_needs_after_ensure() {
        ensure(&DEMO).unwrap();
        for (program, _) in DEMO {
            assert!(find_in_path(program).is_some(), "{program}");
        }
    }
}
