//! Dependency pins (COIN-FORMAT.md §11), in their three forms:
//!
//! - `dependencies.yaml` at the root: `dependencies: {../qtbase: {ref: <sha>, required: true}}`;
//! - `coin/dependencies.yaml` with `dependency_source: supermodule`: a product pinned by branch
//!   (`product_dependency`) and a plain list of modules, whose commits are the product's
//!   submodule pins;
//! - `coin/product_dependencies.yaml`: the product alone.
//!
//! Keys are repository URLs relative to the project, resolved as git resolves submodule URLs.

use crate::coin::load::{Loaded, load_yaml};
use crate::coin::read::{FileReader, field};
use crate::diagnostic::{Diagnostics, FileRef, Location};
use crate::source::{Pin, ProjectName, RepoPath, Source, SourceError};
use crate::yaml::{Node, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub project: ProjectName,
    /// A commit id or a branch; `None` when the pin comes from the product's submodules.
    pub reference: Option<String>,
    /// An optional dependency is installed when it is there and skipped when it is not.
    pub required: bool,
    /// Where it was declared.
    pub location: Location,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependencies {
    pub modules: Vec<Dependency>,
    pub product: Option<Dependency>,
}

pub const DEPENDENCY_FILES: [&str; 3] =
    ["dependencies.yaml", "coin/dependencies.yaml", "coin/product_dependencies.yaml"];

/// Reads every dependency file of a project at a revision.
pub fn read_dependencies(
    source: &dyn Source,
    pin: &Pin,
    diagnostics: &mut Diagnostics,
) -> Result<Dependencies, SourceError> {
    let mut dependencies = Dependencies::default();
    for name in DEPENDENCY_FILES {
        let file = FileRef::new(pin.clone(), RepoPath::new(name).expect("constant path"));
        let Loaded::Node(root) = load_yaml(source, &file, diagnostics)? else { continue };
        let mut reader = FileReader { file: &file, diagnostics };
        read_file(&mut reader, &root, name == "coin/product_dependencies.yaml", &mut dependencies);
    }
    Ok(dependencies)
}

fn read_file(
    reader: &mut FileReader<'_>,
    root: &Node,
    product_file: bool,
    into: &mut Dependencies,
) {
    if root.is_null() {
        return;
    }
    let Some(entries) = reader.map(root, "a dependencies file") else { return };
    reader.unknown_keys(
        entries,
        &["dependencies", "product_dependency", "dependency_source"],
        "a dependencies file",
    );
    let project = reader.file.pin.project.clone();
    if let Some(node) = field(entries, "dependency_source") {
        match node.as_str() {
            Some("supermodule") => {}
            _ => reader.error(node, "unknown `dependency_source`; the only one is `supermodule`"),
        }
    }
    if let Some(node) = field(entries, "product_dependency") {
        let mut products = pins(reader, &project, node);
        if products.len() > 1 {
            reader.error(node, "`product_dependency` names one product");
        }
        into.product = products.drain(..).next();
    }
    let Some(node) = field(entries, "dependencies") else { return };
    match &node.value {
        Value::Seq(items) => {
            // The supermodule form: the pins come from the product.
            for item in items {
                let Some(key) = reader.text(item, "a dependency") else { continue };
                if let Some(dependency) = resolve_key(reader, &project, item, &key, None, true) {
                    into.modules.push(dependency);
                }
            }
            if into.product.is_none() {
                reader.error(node, "a plain list of dependencies needs a `product_dependency` to take the pins from");
            }
        }
        _ if product_file => {
            let mut products = pins(reader, &project, node);
            if products.len() > 1 {
                reader.error(node, "`coin/product_dependencies.yaml` names one product");
            }
            if let Some(product) = products.drain(..).next() {
                into.product = Some(product);
            }
        }
        _ => into.modules.extend(pins(reader, &project, node)),
    }
}

/// A mapping `key: {ref: ..., required: ...}`.
fn pins(reader: &mut FileReader<'_>, project: &ProjectName, node: &Node) -> Vec<Dependency> {
    if node.is_null() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (key, value) in reader.map(node, "`dependencies`").unwrap_or_default() {
        let Some(key_text) = reader.text(key, "a dependency key") else { continue };
        let Some(fields) = reader.map(value, &format!("dependency `{key_text}`")) else { continue };
        reader.unknown_keys(fields, &["ref", "required"], &format!("dependency `{key_text}`"));
        let Some(reference) = field(fields, "ref").and_then(|r| reader.text(r, "`ref`")) else {
            if field(fields, "ref").is_none() {
                reader.error(value, format!("dependency `{key_text}` needs a `ref`"));
            }
            continue;
        };
        let required = match field(fields, "required") {
            Some(flag) => reader.boolean(flag, "`required`").unwrap_or(true),
            None => true,
        };
        found.extend(resolve_key(reader, project, key, &key_text, Some(reference), required));
    }
    found
}

fn resolve_key(
    reader: &mut FileReader<'_>,
    project: &ProjectName,
    node: &Node,
    key: &str,
    reference: Option<String>,
    required: bool,
) -> Option<Dependency> {
    match project.join_relative(key) {
        Some(dependency) => {
            Some(Dependency { project: dependency, reference, required, location: reader.at(node) })
        }
        None => {
            reader.error(node, format!("`{key}` does not name a project relative to `{project}`"));
            None
        }
    }
}
