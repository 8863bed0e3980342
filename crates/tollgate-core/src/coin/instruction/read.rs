use super::{ArchiveRef, Assign, Command, Instruction, InstructionKind, Limit, Splitting};
use crate::coin::condition::read_condition;
use crate::coin::read::{FileReader, field};
use crate::yaml::{Node, Value};

const COMMON_KEYS: [&str; 7] = [
    "type",
    "enable_if",
    "disable_if",
    "userMessageOnFailure",
    "maxTimeInSeconds",
    "maxTimeBetweenOutput",
    "executeOn",
];

/// Reads a list of instructions; `!include` items stay as [`InstructionKind::Include`] for the
/// include resolver.
pub(crate) fn read_instructions(
    reader: &mut FileReader<'_>,
    node: &Node,
    what: &str,
) -> Vec<Instruction> {
    match &node.value {
        Value::Seq(items) => items.iter().map(|item| read_instruction(reader, item)).collect(),
        _ if node.is_null() => Vec::new(),
        _ => {
            reader.error(
                node,
                format!("{what} must be a list of instructions, not {}", node.describe()),
            );
            Vec::new()
        }
    }
}

pub(crate) fn read_instruction(reader: &mut FileReader<'_>, node: &Node) -> Instruction {
    let mut instruction =
        Instruction::new(InstructionKind::Invalid { reason: String::new() }, reader.at(node));
    if node.tag.as_deref() == Some("!include") {
        instruction.kind = match node.as_str() {
            Some(spec) => InstructionKind::Include { spec: spec.to_owned() },
            None => invalid(
                reader,
                node,
                "`!include` takes a quoted path such as \"{{qt/qtbase}}/file.yaml\"",
            ),
        };
        return instruction;
    }
    if let Some(tag) = &node.tag {
        instruction.kind = invalid(reader, node, &format!("unknown tag `{tag}` on an instruction"));
        return instruction;
    }
    let Some(entries) = reader.map(node, "an instruction") else {
        instruction.kind = InstructionKind::Invalid {
            reason: format!("an instruction must be a mapping, not {}", node.describe()),
        };
        return instruction;
    };
    let mut fields =
        Fields { reader, node, entries, known: COMMON_KEYS.to_vec(), unknown_type: false };
    instruction.enable_if = field(entries, "enable_if").map(|c| read_condition(fields.reader, c));
    instruction.disable_if = field(entries, "disable_if").map(|c| read_condition(fields.reader, c));
    instruction.user_message = fields.optional_text("userMessageOnFailure");
    instruction.max_time = fields.limit("maxTimeInSeconds");
    instruction.max_silence = fields.limit("maxTimeBetweenOutput");
    if let Some(on) = fields.optional_text("executeOn") {
        match on.as_str() {
            "always" => instruction.always = true,
            "onSuccess" | "success" => {}
            other => fields
                .reader
                .error(node, format!("unknown `executeOn` value `{other}`; expected `always`")),
        }
    }
    instruction.kind = match field(entries, "type") {
        None => invalid(fields.reader, node, "an instruction needs a `type`"),
        Some(type_node) => match fields.reader.text(type_node, "`type`") {
            None => InstructionKind::Invalid { reason: "the `type` is not a string".to_owned() },
            Some(name) => read_kind(&mut fields, type_node, &name),
        },
    };
    if !fields.unknown_type {
        let known = std::mem::take(&mut fields.known);
        let context = format!("a {} instruction", instruction.kind.type_name());
        fields.reader.unknown_keys(entries, &known, &context);
    }
    instruction
}

fn invalid(reader: &mut FileReader<'_>, node: &Node, reason: &str) -> InstructionKind {
    reader.error(node, reason);
    InstructionKind::Invalid { reason: reason.to_owned() }
}

fn read_kind(fields: &mut Fields<'_, '_, '_>, type_node: &Node, name: &str) -> InstructionKind {
    use InstructionKind as K;
    let kind = match name {
        "Group" => {
            fields.known.push("instructions");
            match field(fields.entries, "instructions") {
                Some(list) => {
                    Some(K::Group(super::read_instructions(fields.reader, list, "`instructions`")))
                }
                None => fields.missing("instructions"),
            }
        }
        "EnvironmentVariable" => fields.variable(Assign::Set),
        "AppendToEnvironmentVariable" => fields.variable(Assign::Append),
        "PrependToEnvironmentVariable" => fields.variable(Assign::Prepend),
        "ExecuteCommand" => (|| {
            let command = fields.command("command")?;
            let splitting = fields.splitting();
            let ignore_exit_code = fields.flag("ignoreExitCode");
            let in_background = fields.flag("startInBackground");
            let reset_on_failure = fields.flag("resetOnFailure");
            Some(K::ExecuteCommand {
                command,
                splitting,
                ignore_exit_code,
                in_background,
                reset_on_failure,
            })
        })(),
        "ChangeDirectory" => {
            fields.text("directory").map(|directory| K::ChangeDirectory { directory })
        }
        "MakeDirectory" => fields.text("directory").map(|directory| K::MakeDirectory { directory }),
        "SetBuildDirectory" => {
            fields.text("directory").map(|directory| K::SetBuildDirectory { directory })
        }
        "SignPackage" => fields.text("directory").map(|directory| K::SignPackage { directory }),
        "WriteFile" => (|| {
            let filename = fields.text("filename")?;
            let contents = fields.text("fileContents")?;
            let mode = fields.file_mode();
            Some(K::WriteFile { filename, contents, mode })
        })(),
        "Rename" => (|| {
            let source = fields.text("sourcePath")?;
            let target = fields.text("targetPath")?;
            Some(K::Rename { source, target })
        })(),
        "UploadArtifact" => (|| {
            let directory = fields.text("archiveDirectory")?;
            let transfer = fields.text("transferType")?;
            let filename = fields.optional_text("filename");
            let filter_list = fields.optional_text("filterListFileName");
            Some(K::UploadArtifact { directory, transfer, filename, filter_list })
        })(),
        "UploadTestArtifact" => (|| {
            let directory = fields.text("archiveDirectory")?;
            let transfer = fields.text("transferType")?;
            Some(K::UploadTestArtifact { directory, transfer })
        })(),
        "InstallTestBinaryArchive" => (|| {
            let storage_path = fields.text("relativeStoragePath")?;
            let directory = fields.text("directory")?;
            Some(K::InstallTestBinaryArchive { storage_path, directory })
        })(),
        "InstallBinaryArchive" => (|| {
            let path = fields.optional_text("relativeStoragePath");
            let regex = fields.optional_text("regex");
            let archive = match (path, regex) {
                (Some(path), None) => ArchiveRef::Path(path),
                (None, Some(regex)) => ArchiveRef::Regex(regex),
                _ => {
                    fields.reader.error(
                        fields.node,
                        "InstallBinaryArchive needs one of `relativeStoragePath` and `regex`",
                    );
                    return None;
                }
            };
            let directory = fields.text("directory")?;
            Some(K::InstallBinaryArchive { archive, directory })
        })(),
        "InstallSourceArchive" => (|| {
            let project = fields.text("project")?;
            let reference = fields.text("ref")?;
            let directory = fields.text("directory")?;
            Some(K::InstallSourceArchive { project, reference, directory })
        })(),
        "UpdateRepo" => fields.texts("repos").map(|repos| K::UpdateRepo { repos }),
        "SetEnvironmentFromScript" => {
            fields.command("command").map(|command| K::SetEnvironmentFromScript { command })
        }
        "ParseEnvironmentVariableFromFile" => (|| {
            let filename = fields.text("filename")?;
            let regex = fields.text("regex")?;
            Some(K::ParseEnvironmentVariableFromFile { filename, regex })
        })(),
        "CreateFileListFromDirectory" => (|| {
            let directory = fields.text("directory")?;
            let filter_list = fields.text("filterListFileName")?;
            Some(K::CreateFileListFromDirectory { directory, filter_list })
        })(),
        "ScheduleUploadTestResults" => Some(K::ScheduleUploadTestResults),
        "RunQtUnitTest" => (|| {
            let command = match fields.command("runTestCommand")? {
                Command::List(items) => items,
                Command::Line(line) => vec![line],
            };
            let directory = fields.optional_text("directory");
            let repetitions = fields.count("testRepetitionAllowance").unwrap_or(0);
            Some(K::RunQtUnitTest { command, directory, repetitions })
        })(),
        other => {
            let known = "Group, EnvironmentVariable, AppendToEnvironmentVariable, PrependToEnvironmentVariable, ExecuteCommand, ChangeDirectory, MakeDirectory, SetBuildDirectory, WriteFile, Rename, UploadArtifact, UploadTestArtifact, InstallTestBinaryArchive, InstallBinaryArchive, InstallSourceArchive, UpdateRepo, SetEnvironmentFromScript, ParseEnvironmentVariableFromFile, CreateFileListFromDirectory, SignPackage, ScheduleUploadTestResults, RunQtUnitTest";
            fields
                .reader
                .error(type_node, format!("unknown instruction type `{other}` (known: {known})"));
            // Its fields are unknown too; one error is enough.
            fields.unknown_type = true;
            return InstructionKind::Invalid {
                reason: format!("unknown instruction type `{other}`"),
            };
        }
    };
    kind.unwrap_or_else(|| InstructionKind::Invalid {
        reason: format!("a {name} instruction with missing or invalid fields"),
    })
}

/// The fields of one instruction mapping; records which keys the type knows.
struct Fields<'r, 'a, 'n> {
    reader: &'r mut FileReader<'a>,
    node: &'n Node,
    entries: &'n [(Node, Node)],
    known: Vec<&'static str>,
    unknown_type: bool,
}

impl Fields<'_, '_, '_> {
    fn get(&mut self, key: &'static str) -> Option<&Node> {
        self.known.push(key);
        field(self.entries, key)
    }

    fn missing<T>(&mut self, key: &str) -> Option<T> {
        let name = field(self.entries, "type").and_then(Node::as_str).unwrap_or("this");
        self.reader.error(self.node, format!("`{name}` needs a `{key}` field"));
        None
    }

    /// A required templated string.
    fn text(&mut self, key: &'static str) -> Option<String> {
        match self.optional_text(key) {
            Some(text) => Some(text),
            None if field(self.entries, key).is_some() => None,
            None => self.missing(key),
        }
    }

    fn optional_text(&mut self, key: &'static str) -> Option<String> {
        let node = self.get(key)?.clone();
        let text = self.reader.text(&node, &format!("`{key}`"))?;
        self.reader.template(&node, &text);
        Some(text)
    }

    fn texts(&mut self, key: &'static str) -> Option<Vec<String>> {
        let Some(node) = self.get(key).cloned() else { return self.missing(key) };
        self.reader.texts(&node, &format!("`{key}`"))
    }

    fn variable(&mut self, assign: Assign) -> Option<InstructionKind> {
        let name = self.text("variableName")?;
        // `variableValue: ""` is common and means "set to empty"; a missing value is too.
        let value = match self.get("variableValue").cloned() {
            Some(node) if node.is_null() => String::new(),
            Some(node) => {
                let text = self.reader.text(&node, "`variableValue`")?;
                self.reader.template(&node, &text);
                text
            }
            None => return self.missing("variableValue"),
        };
        Some(InstructionKind::Variable { name, value, assign })
    }

    fn command(&mut self, key: &'static str) -> Option<Command> {
        let Some(node) = self.get(key).cloned() else { return self.missing(key) };
        match &node.value {
            Value::Seq(_) => {
                let items = self.reader.texts(&node, &format!("`{key}`"))?;
                for (item, text) in node.as_seq().unwrap_or_default().iter().zip(&items) {
                    self.reader.template(item, text);
                }
                Some(Command::List(items))
            }
            _ => {
                let line = self.reader.text(&node, &format!("`{key}`"))?;
                self.reader.template(&node, &line);
                Some(Command::Line(line))
            }
        }
    }

    fn splitting(&mut self) -> Splitting {
        let key = "executeCommandArgumentSplitingBehavior";
        match self.get(key).cloned() {
            None => Splitting::BeforeSubstitution,
            Some(node) => match node.as_str() {
                Some("SplitAfterVariableSubstitution") => Splitting::AfterSubstitution,
                Some("SplitBeforeVariableSubstitution") => Splitting::BeforeSubstitution,
                _ => {
                    self.reader.error(
                        &node,
                        format!("unknown `{key}`; expected SplitAfterVariableSubstitution"),
                    );
                    Splitting::BeforeSubstitution
                }
            },
        }
    }

    /// A boolean that defaults to false. Coin does not render these (`ignoreExitCode` is
    /// documented as not templated), so a template here is an error, not a string.
    fn flag(&mut self, key: &'static str) -> bool {
        let Some(node) = self.get(key).cloned() else { return false };
        self.reader.boolean(&node, &format!("`{key}`")).unwrap_or(false)
    }

    fn limit(&mut self, key: &'static str) -> Option<Limit> {
        let node = self.get(key)?.clone();
        if let Some(seconds) = node.as_u64() {
            return Some(Limit::Seconds(seconds));
        }
        let text = self.reader.text(&node, &format!("`{key}`"))?;
        if !text.contains("{{") {
            self.reader.error(
                &node,
                format!("`{key}` must be a number of seconds or a template, not `{text}`"),
            );
            return None;
        }
        self.reader.template(&node, &text);
        Some(Limit::Template(text))
    }

    fn count(&mut self, key: &'static str) -> Option<u32> {
        let node = self.get(key)?.clone();
        let count = node.as_u64().and_then(|n| u32::try_from(n).ok());
        if count.is_none() {
            self.reader.error(&node, format!("`{key}` must be a whole number"));
        }
        count
    }

    /// `fileMode: 420` is decimal for octal 0644.
    fn file_mode(&mut self) -> Option<u32> {
        let node = self.get("fileMode")?.clone();
        match node.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(mode) if mode <= 0o7777 => Some(mode),
            _ => {
                self.reader.error(
                    &node,
                    "`fileMode` must be a decimal number such as 420 (0644) or 493 (0755)",
                );
                None
            }
        }
    }
}
