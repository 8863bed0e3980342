//! What this machine is, as an agent tells its controller: OS, architecture, distribution,
//! cores and memory. Read from the OS where it says it (os-release and `/proc/meminfo` on
//! Linux); other systems report what the standard library knows until they are ported.

use std::collections::BTreeMap;

use tollgate_api::AgentInfo;

/// This machine, serving `templates` with `labels` on `slots` slots.
pub fn info(
    name: &str,
    templates: &[String],
    labels: &BTreeMap<String, String>,
    slots: u32,
) -> AgentInfo {
    AgentInfo {
        name: name.to_owned(),
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        distribution: distribution().unwrap_or_default(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        memory_bytes: memory_bytes().unwrap_or(0),
        slots,
        templates: templates.to_vec(),
        labels: labels.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// This machine's host name: an agent's name unless it is given one.
pub fn hostname() -> Option<String> {
    let text = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()?;
    Some(text.trim().to_owned()).filter(|name| !name.is_empty())
}

/// `Debian GNU/Linux 12`: os-release's `NAME` and `VERSION_ID`, or its `PRETTY_NAME`.
fn distribution() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .ok()?;
    Some(from_os_release(&text))
}

fn from_os_release(text: &str) -> String {
    let fields: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim().trim_matches('"')))
        .collect();
    match (fields.get("NAME"), fields.get("VERSION_ID")) {
        (Some(name), Some(version)) => format!("{name} {version}"),
        _ => fields.get("PRETTY_NAME").or(fields.get("NAME")).unwrap_or(&"").to_string(),
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_distribution_is_named_with_its_version() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n";
        assert_eq!(super::from_os_release(debian), "Debian GNU/Linux 12");
        let rolling = "PRETTY_NAME=\"Arch Linux\"\nNAME=\"Arch Linux\"\n";
        assert_eq!(super::from_os_release(rolling), "Arch Linux");
    }

    #[test]
    fn this_machine_has_cores_and_memory() {
        let info = super::info("a", &[], &Default::default(), 1);
        assert!(info.cores >= 1);
        assert!(info.memory_bytes > 0, "read from /proc/meminfo");
        assert!(!info.distribution.is_empty(), "read from os-release");
    }
}
