//! Resolving `!include "{{project}}/path.yaml"` (COIN-FORMAT.md §4).
//!
//! The path is under `<project>/coin/instructions/`, at the revision the integration pins for
//! that project: the project under test at its own revision, any other at its dependency pin.
//! The included file's root instruction (in practice a `Group`) replaces the include in place.
//! Includes nest; a file may be included many times; a cycle is an error.

use std::collections::{BTreeMap, HashMap};

use crate::coin::instruction::{Instruction, InstructionKind, read_instruction, read_instructions};
use crate::coin::load::{Loaded, input_fact, load_yaml};
use crate::coin::read::FileReader;
use crate::diagnostic::{Diagnostics, FileRef, Location};
use crate::source::{Pin, ProjectName, RepoPath, Revision, Source, SourceError};
use crate::yaml::Value;

pub(crate) struct Includes<'a> {
    source: &'a dyn Source,
    /// The revision of every project in the integration.
    pins: &'a BTreeMap<ProjectName, Revision>,
    /// Each file is read and resolved once per plan.
    resolved: HashMap<FileRef, Instruction>,
}

impl<'a> Includes<'a> {
    pub fn new(source: &'a dyn Source, pins: &'a BTreeMap<ProjectName, Revision>) -> Includes<'a> {
        Includes { source, pins, resolved: HashMap::new() }
    }

    /// Replaces every include in `list`, recursively.
    pub fn resolve(
        &mut self,
        list: Vec<Instruction>,
        chain: &mut Vec<FileRef>,
        diagnostics: &mut Diagnostics,
    ) -> Result<Vec<Instruction>, SourceError> {
        let mut out = Vec::with_capacity(list.len());
        for mut instruction in list {
            instruction.kind = match instruction.kind {
                InstructionKind::Include { spec } => {
                    out.push(self.include(&spec, &instruction.location, chain, diagnostics)?);
                    continue;
                }
                InstructionKind::Group(children) => {
                    InstructionKind::Group(self.resolve(children, chain, diagnostics)?)
                }
                other => other,
            };
            out.push(instruction);
        }
        Ok(out)
    }

    fn include(
        &mut self,
        spec: &str,
        at: &Location,
        chain: &mut Vec<FileRef>,
        diagnostics: &mut Diagnostics,
    ) -> Result<Instruction, SourceError> {
        let file = match self.target(spec, at) {
            Ok(file) => file,
            Err(reason) => return Ok(failed(at, reason, diagnostics)),
        };
        if chain.contains(&file) {
            let cycle: Vec<String> = chain.iter().chain([&file]).map(ToString::to_string).collect();
            return Ok(failed(at, format!("include cycle: {}", cycle.join(" -> ")), diagnostics));
        }
        if let Some(done) = self.resolved.get(&file) {
            return Ok(done.clone());
        }
        let root = match load_yaml(self.source, &file, diagnostics) {
            Ok(Loaded::Node(root)) => root,
            Ok(Loaded::Missing) => {
                let reason =
                    format!("included file `{}` does not exist in {}", file.path, file.pin);
                return Ok(failed(at, reason, diagnostics));
            }
            Ok(Loaded::Broken) => {
                return Ok(invalid(at, format!("included file `{file}` is not valid YAML")));
            }
            Err(error) => return Ok(failed(at, input_fact(error)?, diagnostics)),
        };
        let mut reader = FileReader { file: &file, diagnostics };
        // The root is one instruction; a list is read as a group of its items.
        let instruction = match &root.value {
            Value::Seq(_) => {
                let list = read_instructions(&mut reader, &root, "an included file");
                Instruction::new(InstructionKind::Group(list), reader.at(&root))
            }
            _ => read_instruction(&mut reader, &root),
        };
        chain.push(file.clone());
        let mut resolved = self.resolve(vec![instruction], chain, diagnostics)?;
        chain.pop();
        let instruction = resolved.pop().expect("one in, one out");
        self.resolved.insert(file, instruction.clone());
        Ok(instruction)
    }

    /// `{{qt/qtbase}}/debian/x.yaml` → `qt/qtbase` at its pin, `coin/instructions/debian/x.yaml`.
    /// Without a `{{project}}/` prefix the path is in the including file's project.
    fn target(&self, spec: &str, at: &Location) -> Result<FileRef, String> {
        let (project, path) = match spec.trim().strip_prefix("{{") {
            Some(rest) => {
                let Some((name, path)) = rest.split_once("}}") else {
                    return Err(format!("include `{spec}`: `{{{{` without `}}}}`"));
                };
                let Some(project) = ProjectName::new(name.trim()) else {
                    return Err(format!("include `{spec}`: `{name}` is not a project name"));
                };
                (project, path)
            }
            None => (at.file.pin.project.clone(), spec.trim()),
        };
        let Some(revision) = self.pins.get(&project) else {
            return Err(format!(
                "include `{spec}`: `{project}` is not part of this integration (not the project under test, the product, or a dependency)"
            ));
        };
        let Some(path) = RepoPath::new(&format!("coin/instructions/{path}")) else {
            return Err(format!("include `{spec}`: the path leaves `coin/instructions`"));
        };
        Ok(FileRef::new(Pin::new(project, revision.clone()), path))
    }
}

fn failed(at: &Location, reason: String, diagnostics: &mut Diagnostics) -> Instruction {
    diagnostics.error(at.clone(), reason.clone());
    invalid(at, reason)
}

fn invalid(at: &Location, reason: String) -> Instruction {
    Instruction::new(InstructionKind::Invalid { reason }, at.clone())
}
