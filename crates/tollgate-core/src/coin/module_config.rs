//! `coin/module_config.yaml`, versions 1 and 2 (COIN-FORMAT.md §3).

use crate::coin::condition::{Condition, read_condition};
use crate::coin::instruction::{Instruction, read_instructions};
use crate::coin::read::{FileReader, field, key_node};
use crate::yaml::Node;

/// The instructions file of a module as written; includes are not resolved yet.
#[derive(Clone, Debug, Default)]
pub struct ModuleConfig {
    pub version: u32,
    /// `None` accepts every configuration.
    pub accept: Option<Condition>,
    /// Cores per work item kind (`machine_type: {Build: {cores: 8}}`).
    pub machine_type: Vec<(String, u32)>,
    /// Work item kind (`Build`, `Test`, `LicenseCheck`, ...) → its instructions, in file order.
    pub instructions: Vec<(String, Vec<Instruction>)>,
    /// `tags: [git]` asks for a git clone instead of a source archive.
    pub tags: Vec<String>,
}

impl ModuleConfig {
    pub fn cores(&self, kind: &str) -> Option<u32> {
        self.machine_type.iter().find(|(k, _)| k == kind).map(|(_, cores)| *cores)
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

const KEYS: [&str; 8] = [
    "version",
    "accept_configuration",
    "machine_type",
    "instructions",
    "build_instructions",
    "test_instructions",
    "tags",
    "downstream_check",
];

pub(crate) fn read_module_config(reader: &mut FileReader<'_>, root: &Node) -> ModuleConfig {
    let mut config = ModuleConfig::default();
    let Some(entries) = reader.map(root, "a module configuration") else { return config };
    // Other keys are anchor holders in Qt's files (`upload_pyside: &upload_pyside`).
    reader.unknown_keys(entries, &KEYS, "a module configuration");
    config.version = match field(entries, "version") {
        Some(node) => match node.as_u64() {
            Some(v @ (1 | 2)) => v as u32,
            _ => {
                reader.error(node, "unsupported `version`; tollgate reads versions 1 and 2");
                2
            }
        },
        None if field(entries, "instructions").is_some() => 2,
        None => 1,
    };
    config.accept = field(entries, "accept_configuration").map(|node| read_condition(reader, node));
    if let Some(node) = field(entries, "machine_type") {
        for (kind, size) in reader.map(node, "`machine_type`").unwrap_or_default() {
            let Some(kind_name) = reader.text(kind, "a work item kind") else { continue };
            let cores =
                size.get("cores").and_then(Node::as_u64).and_then(|n| u32::try_from(n).ok());
            match cores {
                Some(cores) if cores > 0 => config.machine_type.push((kind_name, cores)),
                _ => reader.error(
                    size,
                    format!("`machine_type.{kind_name}` needs `cores`, a positive number"),
                ),
            }
        }
    }
    if let Some(node) = field(entries, "tags") {
        config.tags = reader.texts(node, "`tags`").unwrap_or_default();
    }
    if let Some(node) = key_node(entries, "downstream_check") {
        reader.warning(node, "`downstream_check` is not supported yet; it is ignored");
    }
    let legacy = [("build_instructions", "Build"), ("test_instructions", "Test")];
    match config.version {
        1 => {
            for (key, kind) in legacy {
                if let Some(node) = field(entries, key) {
                    let list = read_instructions(reader, node, &format!("`{key}`"));
                    config.instructions.push((kind.to_owned(), list));
                }
            }
            if let Some(node) = key_node(entries, "instructions") {
                reader.error(node, "`instructions` is the version 2 form; set `version: 2` or use `build_instructions`");
            }
        }
        _ => {
            for (key, _) in legacy {
                if let Some(node) = key_node(entries, key) {
                    reader.error(
                        node,
                        format!("`{key}` is the version 1 form; in version 2 use `instructions`"),
                    );
                }
            }
            if let Some(node) = field(entries, "instructions") {
                for (kind, list) in reader.map(node, "`instructions`").unwrap_or_default() {
                    let Some(kind_name) = reader.text(kind, "a work item kind") else { continue };
                    let list =
                        read_instructions(reader, list, &format!("`instructions.{kind_name}`"));
                    config.instructions.push((kind_name, list));
                }
            }
        }
    }
    config
}
