//! The build key: the content hash of everything that determines a work item's result.
//!
//! Two work items with equal keys produce the same result, so a stored result is reused instead
//! of running again. The key is computed in exactly one function, [`build_key`], over one
//! canonical encoding ([`Canon`]): fields in a fixed order, every string length-prefixed, sets
//! sorted, a version tag first. Source positions are left out (moving an instruction to
//! another line changes nothing), and so is the commit id unless the module asks for a git
//! clone (`tags: [git]`), so a rebased change with an unchanged tree reuses its builds.

use std::fmt;

use crate::coin::condition::{Condition, ConditionKind, Test};
use crate::coin::instruction::{
    ArchiveRef, Assign, Command, Instruction, InstructionKind, Limit, Splitting,
};
use crate::coin::platform::PlatformConfig;
use crate::source::{ProjectName, Revision, TreeId};

#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildKey([u8; 32]);

impl BuildKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key written by [`Self::to_hex`]: 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Option<BuildKey> {
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let mut bytes = [0; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(BuildKey(bytes))
    }
}

/// `blake3:<hex>`: the algorithm is named so that it can change one day.
impl fmt::Display for BuildKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", self.to_hex())
    }
}

impl fmt::Debug for BuildKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Everything that determines a work item's result.
pub struct KeyInputs<'a> {
    /// The global revision salt (Coin's "COIN revision"): changing it invalidates every result.
    pub salt: &'a str,
    pub project: &'a ProjectName,
    /// `Build`, `Test`, ...
    pub kind: &'a str,
    pub tree: &'a TreeId,
    /// Only when the work item sees the commit itself (a git clone).
    pub commit: Option<&'a Revision>,
    pub config: &'a PlatformConfig,
    /// The expanded instructions.
    pub instructions: &'a [Instruction],
    /// The keys of the work items it depends on, in any order.
    pub dependencies: &'a [BuildKey],
}

/// The one function that computes build keys.
pub fn build_key(inputs: &KeyInputs<'_>) -> BuildKey {
    let mut canon = Canon::new("tollgate build key v1");
    canon.str(inputs.salt);
    canon.str(inputs.project.as_str());
    canon.str(inputs.kind);
    canon.str(inputs.tree.as_str());
    canon.opt(inputs.commit.map(Revision::as_str));
    canon.config(inputs.config);
    canon.instructions(inputs.instructions);
    let mut dependencies = inputs.dependencies.to_vec();
    dependencies.sort();
    dependencies.dedup();
    canon.len(dependencies.len());
    for key in &dependencies {
        canon.bytes(key.as_bytes());
    }
    BuildKey(*blake3::hash(&canon.buffer).as_bytes())
}

/// The canonical encoding. It is collected and hashed in one call: the digest is the same as
/// when hashing piece by piece, but thousands of tiny updates cost several times more than
/// one large one, which blake3 also hashes with SIMD across chunks.
struct Canon {
    buffer: Vec<u8>,
}

impl Canon {
    fn new(version: &str) -> Canon {
        let mut canon = Canon { buffer: Vec::with_capacity(16 * 1024) };
        canon.str(version);
        canon
    }

    fn number(&mut self, n: u64) {
        self.buffer.extend_from_slice(&n.to_le_bytes());
    }

    fn len(&mut self, n: usize) {
        self.number(n as u64);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.buffer.extend_from_slice(bytes);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn opt(&mut self, s: Option<&str>) {
        match s {
            None => self.len(0),
            Some(s) => {
                self.len(1);
                self.str(s);
            }
        }
    }

    fn strs<S: AsRef<str>>(&mut self, items: &[S]) {
        self.len(items.len());
        for item in items {
            self.str(item.as_ref());
        }
    }

    fn flag(&mut self, value: bool) {
        self.len(usize::from(value));
    }

    fn config(&mut self, config: &PlatformConfig) {
        self.str("config");
        self.str(&config.id);
        self.str(&config.template);
        self.str(&config.compiler);
        self.opt(config.target_os.as_deref());
        self.opt(config.target_arch.as_deref());
        self.opt(config.target_compiler.as_deref());
        // Features are a set: their order in the file changes nothing.
        let mut features = config.features.clone();
        features.sort();
        features.dedup();
        self.strs(&features);
        self.opt(config.configure_arguments.as_deref());
        // Environment variables are applied in order and may refer to earlier ones.
        self.len(config.environment.len());
        for (name, value) in &config.environment {
            self.str(name);
            self.str(value);
        }
        self.strs(&config.environment_script);
        self.strs(&config.platform_dependency);
    }

    fn instructions(&mut self, list: &[Instruction]) {
        self.len(list.len());
        for instruction in list {
            self.instruction(instruction);
        }
    }

    fn instruction(&mut self, instruction: &Instruction) {
        self.str(instruction.kind.type_name());
        self.condition(instruction.enable_if.as_ref());
        self.condition(instruction.disable_if.as_ref());
        self.opt(instruction.user_message.as_deref());
        self.limit(instruction.max_time.as_ref());
        self.limit(instruction.max_silence.as_ref());
        self.flag(instruction.always);
        use InstructionKind as K;
        match &instruction.kind {
            K::Group(children) => self.instructions(children),
            K::Variable { name, value, assign } => {
                self.str(name);
                self.str(value);
                self.str(match assign {
                    Assign::Set => "set",
                    Assign::Append => "append",
                    Assign::Prepend => "prepend",
                });
            }
            K::ExecuteCommand {
                command,
                splitting,
                ignore_exit_code,
                in_background,
                reset_on_failure,
            } => {
                self.command(command);
                self.flag(*splitting == Splitting::AfterSubstitution);
                self.flag(*ignore_exit_code);
                self.flag(*in_background);
                self.flag(*reset_on_failure);
            }
            K::ChangeDirectory { directory }
            | K::MakeDirectory { directory }
            | K::SetBuildDirectory { directory }
            | K::SignPackage { directory } => self.str(directory),
            K::WriteFile { filename, contents, mode } => {
                self.str(filename);
                self.str(contents);
                self.opt(mode.map(|m| m.to_string()).as_deref());
            }
            K::Rename { source, target } => self.strs(&[source, target]),
            K::UploadArtifact { directory, transfer, filename, filter_list } => {
                self.strs(&[directory, transfer]);
                self.opt(filename.as_deref());
                self.opt(filter_list.as_deref());
            }
            K::UploadTestArtifact { directory, transfer } => self.strs(&[directory, transfer]),
            K::InstallTestBinaryArchive { storage_path, directory } => {
                self.strs(&[storage_path, directory])
            }
            K::InstallBinaryArchive { archive, directory } => {
                match archive {
                    ArchiveRef::Path(path) => self.strs(&["path", path]),
                    ArchiveRef::Regex(regex) => self.strs(&["regex", regex]),
                }
                self.str(directory);
            }
            K::InstallSourceArchive { project, reference, directory } => {
                self.strs(&[project, reference, directory]);
            }
            K::UpdateRepo { repos } => self.strs(repos),
            K::SetEnvironmentFromScript { command } => self.command(command),
            K::ParseEnvironmentVariableFromFile { filename, regex } => {
                self.strs(&[filename, regex])
            }
            K::CreateFileListFromDirectory { directory, filter_list } => {
                self.strs(&[directory, filter_list])
            }
            K::ScheduleUploadTestResults => {}
            K::RunQtUnitTest { command, directory, repetitions } => {
                self.strs(command);
                self.opt(directory.as_deref());
                self.number(u64::from(*repetitions));
            }
            K::Include { spec } => self.str(spec),
            K::Invalid { reason } => self.str(reason),
        }
    }

    fn command(&mut self, command: &Command) {
        match command {
            Command::Line(line) => {
                self.str("line");
                self.str(line);
            }
            Command::List(items) => {
                self.str("list");
                self.strs(items);
            }
        }
    }

    fn limit(&mut self, limit: Option<&Limit>) {
        match limit {
            None => self.len(0),
            Some(Limit::Seconds(seconds)) => {
                self.len(1);
                self.number(*seconds);
            }
            Some(Limit::Template(text)) => {
                self.len(2);
                self.str(text);
            }
        }
    }

    fn condition(&mut self, condition: Option<&Condition>) {
        let Some(condition) = condition else {
            self.str("none");
            return;
        };
        match &condition.kind {
            ConditionKind::Property { property, test } => {
                self.str("property");
                self.str(property);
                self.test(test);
            }
            ConditionKind::Runtime { env_var, test } => {
                self.str("runtime");
                self.str(env_var);
                self.test(test);
            }
            ConditionKind::And(items) | ConditionKind::Or(items) => {
                let and = matches!(condition.kind, ConditionKind::And(_));
                self.str(if and { "and" } else { "or" });
                self.len(items.len());
                for item in items {
                    self.condition(Some(item));
                }
            }
            ConditionKind::Not(inner) => {
                self.str("not");
                self.condition(Some(inner));
            }
            ConditionKind::Invalid => self.str("invalid"),
        }
    }

    fn test(&mut self, test: &Test) {
        self.str(test.operator());
        match test {
            Test::Equals(value) | Test::NotEquals(value) => self.opt(value.as_deref()),
            Test::Contains(value)
            | Test::NotContains(value)
            | Test::EqualsProperty(value)
            | Test::NotEqualsProperty(value) => self.str(value),
            Test::In(values) | Test::NotIn(values) => self.strs(values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coin::instruction::{Command, Instruction, InstructionKind, Splitting};
    use crate::diagnostic::{FileRef, Location, Position};
    use crate::source::{Pin, RepoPath};

    fn location(line: u32) -> Location {
        let pin = Pin::new(ProjectName::new("example/libgreet").unwrap(), Revision::new("0123"));
        Location {
            file: FileRef::new(pin, RepoPath::new("coin/module_config.yaml").unwrap()),
            position: Position::new(line, 5),
        }
    }

    fn config() -> PlatformConfig {
        PlatformConfig {
            id: "debian-12".into(),
            id_generated: false,
            template: "qtci-linux-Debian-12-x86_64-1".into(),
            compiler: "GCC".into(),
            target_os: None,
            target_arch: None,
            target_compiler: None,
            features: vec!["Sccache".into(), "DoNotRunTests".into()],
            configure_arguments: Some("-release".into()),
            environment: vec![("CC".into(), "gcc".into())],
            environment_script: Vec::new(),
            platform_dependency: Vec::new(),
            location: location(1),
        }
    }

    fn instructions(line: u32) -> Vec<Instruction> {
        vec![Instruction::new(
            InstructionKind::ExecuteCommand {
                command: Command::Line("make -C {{.SourceDir}}".into()),
                splitting: Splitting::BeforeSubstitution,
                ignore_exit_code: false,
                in_background: false,
                reset_on_failure: false,
            },
            location(line),
        )]
    }

    fn key_with(
        edit: impl FnOnce(&mut PlatformConfig, &mut Vec<Instruction>, &mut Vec<BuildKey>),
    ) -> BuildKey {
        key_salted("tollgate-1", edit)
    }

    fn key_salted(
        salt: &str,
        edit: impl FnOnce(&mut PlatformConfig, &mut Vec<Instruction>, &mut Vec<BuildKey>),
    ) -> BuildKey {
        let (mut config, mut list, mut dependencies) =
            (config(), instructions(7), vec![BuildKey([7; 32])]);
        edit(&mut config, &mut list, &mut dependencies);
        build_key(&KeyInputs {
            salt,
            project: &ProjectName::new("example/libgreet").unwrap(),
            kind: "Build",
            tree: &TreeId::new("git:4b825dc642cb6eb9a060e54bf8d69288fbee4904"),
            commit: None,
            config: &config,
            instructions: &list,
            dependencies: &dependencies,
        })
    }

    /// The golden digest. If this changes, every stored result becomes unreachable: change it
    /// only on purpose, together with the version tag in `build_key`.
    #[test]
    fn golden_digest() {
        assert_eq!(
            key_with(|_, _, _| {}).to_string(),
            "blake3:6ff592347404633e5aed080e99fbdba61ab68b90d02e3009c57f8d916b4fe8bb"
        );
    }

    #[test]
    fn the_key_follows_every_input_that_matters() {
        let base = key_with(|_, _, _| {});
        assert_ne!(base, key_with(|c, _, _| c.features.push("Packaging".into())));
        assert_ne!(base, key_with(|c, _, _| c.environment[0].1 = "clang".into()));
        assert_ne!(base, key_with(|c, _, _| c.template = "qtci-linux-Debian-12-x86_64-2".into()));
        assert_ne!(base, key_with(|_, l, _| l[0].user_message = Some("failed".into())));
        assert_ne!(base, key_with(|_, l, _| l[0].always = true));
        assert_ne!(base, key_with(|_, _, d| d[0] = BuildKey([8; 32])));
        assert_ne!(base, key_with(|_, _, d| d.clear()));
        // Bumping the salt invalidates everything.
        assert_ne!(base, key_salted("tollgate-2", |_, _, _| {}));
    }

    #[test]
    fn hex_round_trips() {
        let key = key_with(|_, _, _| {});
        assert_eq!(BuildKey::from_hex(&key.to_hex()), Some(key));
        assert_eq!(BuildKey::from_hex(&key.to_hex().to_uppercase()), None);
        assert_eq!(BuildKey::from_hex("00"), None);
        assert_eq!(BuildKey::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn the_key_ignores_what_does_not_matter() {
        let base = key_with(|_, _, _| {});
        // Where an instruction is written, and the order of features and of dependency keys.
        assert_eq!(base, key_with(|_, l, _| *l = instructions(99)));
        assert_eq!(base, key_with(|c, _, _| c.features.reverse()));
        assert_eq!(base, key_with(|_, _, d| d.push(BuildKey([7; 32]))));
        let two = |d: &mut Vec<BuildKey>| *d = vec![BuildKey([1; 32]), BuildKey([2; 32])];
        let swapped = |d: &mut Vec<BuildKey>| *d = vec![BuildKey([2; 32]), BuildKey([1; 32])];
        assert_eq!(key_with(|_, _, d| two(d)), key_with(|_, _, d| swapped(d)));
    }
}
