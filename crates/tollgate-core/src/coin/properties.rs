//! Properties of a platform configuration, as `property` conditions see them (COIN-FORMAT.md §8).
//!
//! Host properties come from the template name, `qtci-<os>-<distro>-<version>-<arch>-<rev>`.
//! Target properties come from `Target os`, `Target arch` and `Target compiler`, and default to
//! the host's: `host.os equals_property target.os` is how Coin says "not cross-compiling".

use crate::coin::platform::PlatformConfig;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Machine {
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub arch: Option<String>,
    pub compiler: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Properties {
    pub id: String,
    pub host: Machine,
    pub target: Machine,
    pub features: Vec<String>,
    /// The first configuration named by `Platform dependency` (COIN-FORMAT.md §12.5 leaves a
    /// list open; the first is the one whose build the others are tested against).
    pub platform_dependency: Option<Box<Properties>>,
}

/// What a property name refers to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PropertyValue<'a> {
    Absent,
    Text(&'a str),
    List(&'a [String]),
    Machine(&'a Machine),
    Configuration(&'a Properties),
}

impl Properties {
    pub fn of(config: &PlatformConfig, platform_dependency: Option<Properties>) -> Properties {
        let host = host_of_template(&config.template, &config.compiler);
        let target = Machine {
            os: match &config.target_os {
                Some(os) => Some(target_os_family(os)),
                None => host.os.clone(),
            },
            os_version: config.target_os.clone().or_else(|| host.os_version.clone()),
            arch: match &config.target_arch {
                Some(arch) => Some(normalise_arch(arch)),
                None => host.arch.clone(),
            },
            compiler: config.target_compiler.clone().or_else(|| host.compiler.clone()),
        };
        Properties {
            id: config.id.clone(),
            host,
            target,
            features: config.features.clone(),
            platform_dependency: platform_dependency.map(Box::new),
        }
    }

    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// The value of a dotted property name; unknown names are absent.
    pub fn get(&self, name: &str) -> PropertyValue<'_> {
        let (head, rest) = match name.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (name, None),
        };
        match (head, rest) {
            ("id", None) => PropertyValue::Text(&self.id),
            ("features", None) => PropertyValue::List(&self.features),
            ("host", None) => PropertyValue::Machine(&self.host),
            ("target", None) => PropertyValue::Machine(&self.target),
            ("host", Some(field)) => machine_field(&self.host, field),
            ("target", Some(field)) => machine_field(&self.target, field),
            ("platformDependency", rest) => match (&self.platform_dependency, rest) {
                (None, _) => PropertyValue::Absent,
                (Some(dep), None) => PropertyValue::Configuration(dep),
                (Some(dep), Some(rest)) => dep.get(rest),
            },
            _ => PropertyValue::Absent,
        }
    }
}

fn machine_field<'a>(machine: &'a Machine, field: &str) -> PropertyValue<'a> {
    let value = match field {
        "os" => &machine.os,
        "osVersion" => &machine.os_version,
        "arch" => &machine.arch,
        "compiler" => &machine.compiler,
        _ => return PropertyValue::Absent,
    };
    value.as_deref().map_or(PropertyValue::Absent, PropertyValue::Text)
}

/// Whether `name` is a property a configuration can have (used to warn about typos and about
/// Qt's own `target.arch equals_property: X86`).
pub fn is_known_property(name: &str) -> bool {
    let name = name.strip_prefix("platformDependency.").unwrap_or(name);
    matches!(
        name,
        "id" | "features"
            | "host"
            | "target"
            | "platformDependency"
            | "host.os"
            | "host.osVersion"
            | "host.arch"
            | "host.compiler"
            | "target.os"
            | "target.osVersion"
            | "target.arch"
            | "target.compiler"
    )
}

/// `qtci-linux-Ubuntu-22.04-x86_64-51` → os `Linux`, osVersion `Ubuntu_22_04`, arch `X86_64`.
/// A template that does not follow Qt's naming gives absent host properties, except the
/// compiler.
pub fn host_of_template(template: &str, compiler: &str) -> Machine {
    let compiler = (!compiler.is_empty()).then(|| compiler.to_owned());
    let parts: Vec<&str> = template.split('-').collect();
    let [prefix, os, middle @ .., arch, _revision] = parts.as_slice() else {
        return Machine { compiler, ..Machine::default() };
    };
    if *prefix != "qtci" || middle.is_empty() {
        return Machine { compiler, ..Machine::default() };
    }
    let os = match *os {
        "linux" => "Linux".to_owned(),
        "windows" => "Windows".to_owned(),
        "macos" => "MacOS".to_owned(),
        other => capitalise(other),
    };
    let version = middle.join("_").replace('.', "_");
    // Windows and macOS versions are bare numbers, so Coin prefixes the OS name.
    let os_version = match os.as_str() {
        "Windows" | "MacOS" => format!("{os}_{version}"),
        _ => version,
    };
    let arch = match (os.as_str(), *arch) {
        ("MacOS", "arm") => "ARM64".to_owned(),
        (_, arch) => normalise_arch(arch),
    };
    Machine { os: Some(os), os_version: Some(os_version), arch: Some(arch), compiler }
}

/// `Android_ANY` → `Android`, `QNX_710` → `QNX`; QEMU targets run embedded Linux.
fn target_os_family(target_os: &str) -> String {
    match target_os {
        "QEMU" => "Linux".to_owned(),
        other => other.split('_').next().unwrap_or(other).to_owned(),
    }
}

/// `arm64` → `ARM64`, `x86_64-arm64` → `X86_64-ARM64`, `multi` → `Multi`.
fn normalise_arch(arch: &str) -> String {
    match arch {
        "multi" | "Multi" => "Multi".to_owned(),
        other => other.to_uppercase(),
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_properties_come_from_the_template_name() {
        let check = |template: &str, expected: [&str; 3]| {
            let m = host_of_template(template, "GCC");
            let got = [m.os.unwrap(), m.os_version.unwrap(), m.arch.unwrap()];
            assert_eq!(got, expected.map(str::to_owned), "{template}");
        };
        check("qtci-linux-Ubuntu-22.04-x86_64-51", ["Linux", "Ubuntu_22_04", "X86_64"]);
        check("qtci-linux-RHEL-8.10-x86_64-51", ["Linux", "RHEL_8_10", "X86_64"]);
        check("qtci-linux-Debian-11.6-aarch64-50", ["Linux", "Debian_11_6", "AARCH64"]);
        check("qtci-linux-SLES-15_SP5-x86_64-50", ["Linux", "SLES_15_SP5", "X86_64"]);
        check("qtci-windows-11_22H2-aarch64-53", ["Windows", "Windows_11_22H2", "AARCH64"]);
        check("qtci-macos-12-arm-102", ["MacOS", "MacOS_12", "ARM64"]);
        check("qtci-macos-14-x86_64-105", ["MacOS", "MacOS_14", "X86_64"]);
        let other = host_of_template("debian-bookworm", "GCC");
        assert_eq!((other.os, other.compiler.as_deref()), (None, Some("GCC")));
    }
}
