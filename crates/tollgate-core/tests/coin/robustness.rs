//! Robustness: every fixture file, truncated or with bytes changed, gives diagnostics and never a
//! panic (DESIGN.md §4.2: repository YAML is untrusted).
//!
//! Each mutated file goes through what reads it in an integration: the plan of a module that
//! reads it. Modules are planned against a small platform set, because a file's reader does not
//! depend on how many configurations there are and a full Qt plan is slow in a debug build.
//! Probe modules read what no fixture module reads as it is: each `qt/qt5` platform file as a
//! module's own, `.gitmodules` through a supermodule pin, and the instruction files that no
//! module includes.
//!
//! A seeded sweep gives every file each kind of mutation; a proptest property adds random cases
//! on every run.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use tollgate_core::plan::{MODULE_CONFIG, PLATFORM_CONFIGS, Plan, PlanRequest, plan};
use tollgate_core::source::{
    MemorySource, Pin, ProjectName, RepoPath, Revision, Source, SourceError, TreeId,
};
use tollgate_core::yaml::{self, Limits};

use crate::fixtures::*;

/// The product whose `default.yaml` is the small platform set modules are planned against.
const PLATFORMS: &str = "robustness/platforms";

/// A few configurations in the shapes of Qt's own: a host build, a test-only configuration on
/// it, a cross-compilation, Windows, macOS, and a license check. Conditions in the fixtures
/// branch on exactly these properties and features.
const PLATFORM_SET: &str = "Version: 2
Configurations:
- Id: 'ubuntu-22.04'
  Template: 'qtci-linux-Ubuntu-22.04-x86_64-51'
  Compiler: 'GCC'
  Features: ['Sccache', 'UseConfigure', 'DoNotRunTests', 'GenerateSBOM', 'StandaloneExamples']
  Configure arguments: '-nomake examples -release -force-debug-info -headersclean'
  Environment variables: ['NON_QTBASE_CMAKE_ARGS=-DFFMPEG_DIR={{.Env.FFMPEG_DIR}}']
- Id: 'ubuntu-22.04-x11-tests'
  Template: 'qtci-linux-Ubuntu-22.04-x86_64-51'
  Compiler: 'GCC'
  Features: ['Sccache', 'TestOnly', 'InsignificantTests']
  Platform dependency: 'ubuntu-22.04'
- Id: 'qnx-710-x86_64-on-linux'
  Template: 'qtci-linux-Ubuntu-22.04-x86_64-51'
  Target os: 'QNX_710'
  Target arch: 'x86_64'
  Compiler: 'GCC'
  Target compiler: 'QCC'
  Platform dependency: 'ubuntu-22.04'
  Features: ['VMSize8', 'UseConfigure']
  Environment variables: ['TARGET_CONFIGURE_ARGS=-release -nomake examples']
- Id: 'windows-11_23H2-msvc2022'
  Template: 'qtci-windows-11_23H2-x86_64-53'
  Compiler: 'MSVC2022'
  Features: ['Sccache', 'DebugAndRelease', 'UseConfigure', 'Packaging']
  Configure arguments: '-debug-and-release -force-debug-info -nomake examples'
- Id: 'macos-14-arm64'
  Template: 'qtci-macos-14-arm-106'
  Compiler: 'Clang'
  Features: ['Sccache', 'DocsGenerationV2', 'Insignificant']
- Id: 'ubuntu-22.04-license-check'
  Template: 'qtci-linux-Ubuntu-22.04-x86_64-51'
  Compiler: 'GCC'
  Features: ['TestOnly', 'LicenseCheckV2']
";

/// A module that reads the platform configuration file it is named after (`robustness/qtsvg`
/// reads `qt/qt5`'s `qtsvg.yaml`), with instructions whose conditions use each property.
const PROBE_MODULE: &str = "version: 2
accept_configuration:
  condition: or
  conditions:
    - condition: property
      property: host.os
      equals_property: target.os
    - condition: property
      property: features
      not_contains_value: Disable
instructions:
  Build:
    - type: EnvironmentVariable
      variableName: PROBE_ARGS
      variableValue: \"{{.Env.TARGET_CONFIGURE_ARGS}} {{.Env.CONFIGURE_ARGS}}\"
    - type: ExecuteCommand
      command: \"cmake --build {{.SourceDir}}\"
      maxTimeInSeconds: 600
      enable_if:
        condition: and
        conditions:
          - condition: property
            property: target.osVersion
            not_equals_value: null
          - condition: property
            property: host.compiler
            in_values: [GCC, Clang, MSVC2022, Mingw]
      userMessageOnFailure: The build failed.
  Test:
    - type: ExecuteCommand
      command: [ctest, --output-on-failure]
      maxTimeInSeconds: 600
      disable_if:
        condition: property
        property: platformDependency.target.arch
        equals_property: host.arch
      userMessageOnFailure: The tests failed.
  LicenseCheckV2:
    - type: ExecuteCommand
      command: license-check
      maxTimeInSeconds: 60
      userMessageOnFailure: The license check failed.
";

/// A module whose dependencies are pinned by `qt/qt5`'s submodules, the one form that reads its
/// `.gitmodules`. The library is not a submodule there, so the whole file is searched.
const SUPERMODULE_PROBE: &str = "robustness/supermodule";
const SUPERMODULE_DEPENDENCIES: &str = "dependency_source: supermodule
product_dependency:
  qt/qt5:
    ref: dev
dependencies:
  - robustness/library
";

/// A module that includes one instruction file; see `include_probe`.
const INCLUDE_PROBE: &str = "robustness/includes";

/// The revision the probes are planned at; a memory source ignores it.
const PROBE_REVISION: &str = "probe";

/// A file of the fixtures.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FixtureFile {
    project: ProjectName,
    path: RepoPath,
}

impl fmt::Display for FixtureFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.project, self.path)
    }
}

impl FixtureFile {
    fn is_yaml(&self) -> bool {
        self.path.as_str().ends_with(".yaml")
    }

    /// `qtsvg` for `qt/qt5`'s `coin/platform_configs/qtsvg.yaml`.
    fn platform_config_name(&self) -> Option<&str> {
        if self.project.as_str() != "qt/qt5" {
            return None;
        }
        let name = self.path.as_str().strip_prefix(PLATFORM_CONFIGS)?.strip_prefix('/')?;
        name.strip_suffix(".yaml").filter(|name| !name.contains('/'))
    }
}

/// Every fixture file, as a project and a path; the bytes come from `fixture_source()`.
fn fixture_files() -> Vec<FixtureFile> {
    let files = tollgate_fixtures::fixture_files().into_iter();
    files.map(|file| FixtureFile { project: file.project, path: file.path }).collect()
}

/// How a file is read.
#[derive(Clone, Debug)]
enum Reader {
    /// Plans the module against the small platform set.
    Module(Pin),
    /// Plans a probe module named after the file against `qt/qt5`'s platform configurations,
    /// so that the file is read as that module's own.
    PlatformFile(String),
    /// Plans a probe module that includes the instruction file, for files that no fixture
    /// module includes at the pinned revisions.
    Included(FixtureFile),
}

impl Reader {
    /// The plan request, after adding what it needs to `source`.
    fn request(&self, source: &mut MemorySource) -> PlanRequest {
        let (project, platforms) = match self {
            Reader::Module(pin) => (pin.clone(), probe_pin(PLATFORMS)),
            Reader::PlatformFile(name) => {
                let probe = format!("robustness/{name}");
                source.add(&probe, MODULE_CONFIG, PROBE_MODULE);
                (probe_pin(&probe), pin("qt/qt5"))
            }
            Reader::Included(file) => {
                let (module, dependencies) = include_probe(file);
                source.add(INCLUDE_PROBE, MODULE_CONFIG, module);
                source.add(INCLUDE_PROBE, "dependencies.yaml", dependencies);
                (probe_pin(INCLUDE_PROBE), probe_pin(PLATFORMS))
            }
        };
        PlanRequest { project, platforms: Some(platforms), salt: "robustness".into() }
    }
}

/// The module file and dependency file of a module that includes `file` for its build and its
/// tests, the way Qt modules include qtbase's templates.
fn include_probe(file: &FixtureFile) -> (String, String) {
    let included =
        file.path.as_str().strip_prefix("coin/instructions/").expect("an instruction file");
    let include = format!("!include \"{{{{{}}}}}/{included}\"", file.project);
    let module =
        format!("version: 2\ninstructions:\n  Build:\n    - {include}\n  Test:\n    - {include}\n");
    let revision = revision_of(file.project.as_str());
    let dependencies = format!("dependencies:\n  {}:\n    ref: {revision}\n", file.project);
    (module, dependencies)
}

fn probe_pin(project: &str) -> Pin {
    Pin::new(ProjectName::new(project).unwrap(), Revision::new(PROBE_REVISION))
}

/// The modules that read the fixtures' non-platform files, cheapest first (measured: qtsdk and
/// the probe plan in under a millisecond, each Qt module reads all of qtbase's includes).
fn module_readers() -> Vec<Pin> {
    let mut readers = vec![pin("qtproject/qtsdk"), probe_pin(SUPERMODULE_PROBE), pin("qt/qt5")];
    readers.extend(
        ["qt/qtbase", "qt/qtsvg", "qt/qtshadertools", "qt/qtdeclarative"].into_iter().map(pin),
    );
    readers
}

/// A source that records which files were read.
struct Recording<'a> {
    inner: &'a MemorySource,
    read: RefCell<BTreeSet<FixtureFile>>,
}

impl Source for Recording<'_> {
    fn read(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Vec<u8>>, SourceError> {
        let file = FixtureFile { project: pin.project.clone(), path: path.clone() };
        self.read.borrow_mut().insert(file);
        self.inner.read(pin, path)
    }

    fn tree_id(&self, pin: &Pin) -> Result<TreeId, SourceError> {
        self.inner.tree_id(pin)
    }

    fn resolve(&self, project: &ProjectName, reference: &str) -> Result<Revision, SourceError> {
        self.inner.resolve(project, reference)
    }

    fn submodule_pin(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Revision>, SourceError> {
        self.inner.submodule_pin(pin, path)
    }
}

struct Outcome {
    plan: Result<Plan, SourceError>,
    read: BTreeSet<FixtureFile>,
}

/// Plans with `reader`, the fixture `file` replaced by `bytes` (when given).
fn run(base: &MemorySource, reader: &Reader, replaced: Option<(&FixtureFile, &[u8])>) -> Outcome {
    let mut source = base.clone();
    if let Some((file, bytes)) = replaced {
        source.add(file.project.as_str(), file.path.as_str(), bytes);
    }
    let request = reader.request(&mut source);
    let recording = Recording { inner: &source, read: RefCell::default() };
    let plan = plan(&recording, &request);
    Outcome { plan, read: recording.read.into_inner() }
}

/// What a candidate reader reads when nothing is mutated, and whether it reports no error.
struct Baseline {
    reader: Reader,
    read: BTreeSet<FixtureFile>,
    clean: bool,
}

impl Baseline {
    fn of(source: &MemorySource, reader: Reader) -> Baseline {
        let outcome = run(source, &reader, None);
        let clean = outcome.plan.is_ok_and(|plan| errors(&plan).is_empty());
        Baseline { reader, read: outcome.read, clean }
    }
}

/// The cheapest reader of `file`. A platform file is best read as a module's own; a fragment
/// whose platform dependencies live in the file that includes it is read through that one.
/// An instruction file that nothing includes is included by a probe.
fn reader_of(file: &FixtureFile, baselines: &[Baseline]) -> Option<Reader> {
    let reading = || baselines.iter().filter(|b| b.read.contains(file));
    let own = |b: &&Baseline| match &b.reader {
        Reader::PlatformFile(name) => file.platform_config_name() == Some(name.as_str()),
        _ => false,
    };
    let found = reading()
        .find(|b| b.clean && own(b))
        .or_else(|| reading().find(|b| b.clean))
        .or_else(|| reading().find(own));
    match found {
        Some(baseline) => Some(baseline.reader.clone()),
        None if FileKind::of(file) == FileKind::Instructions => {
            Some(Reader::Included(file.clone()))
        }
        None => None,
    }
}

/// The fixtures plus the small platform set and the probes, and the reader of each file.
struct Harness {
    source: MemorySource,
    readers: Vec<(FixtureFile, Reader)>,
    /// Files nothing reads; `unmutated_fixtures_plan_without_errors` fails on them.
    unread: Vec<FixtureFile>,
}

impl Harness {
    fn get() -> &'static Harness {
        static HARNESS: OnceLock<Harness> = OnceLock::new();
        HARNESS.get_or_init(Harness::new)
    }

    fn new() -> Harness {
        let mut source = fixture_source();
        source.add(PLATFORMS, &format!("{PLATFORM_CONFIGS}/default.yaml"), PLATFORM_SET);
        source.add(SUPERMODULE_PROBE, MODULE_CONFIG, PROBE_MODULE);
        source.add(SUPERMODULE_PROBE, "coin/dependencies.yaml", SUPERMODULE_DEPENDENCIES);
        source.add("robustness/library", MODULE_CONFIG, PROBE_MODULE);

        let files = fixture_files();
        let platform_files = files.iter().filter_map(FixtureFile::platform_config_name);
        let baselines: Vec<Baseline> = module_readers()
            .into_iter()
            .map(Reader::Module)
            .chain(platform_files.map(|name| Reader::PlatformFile(name.to_owned())))
            .map(|reader| Baseline::of(&source, reader))
            .collect();
        let mut readers = Vec::new();
        let mut unread = Vec::new();
        for file in files {
            match reader_of(&file, &baselines) {
                Some(reader) => readers.push((file, reader)),
                None => unread.push(file),
            }
        }
        Harness { source, readers, unread }
    }

    fn bytes(&self, file: &FixtureFile) -> Vec<u8> {
        self.source.read(&pin(file.project.as_str()), &file.path).unwrap().unwrap()
    }

    /// Plans with `file` mutated to `bytes` and checks what the user would see.
    fn check(&self, file: &FixtureFile, reader: &Reader, bytes: &[u8]) -> Result<(), String> {
        let outcome =
            catch_unwind(AssertUnwindSafe(|| run(&self.source, reader, Some((file, bytes)))))
                .map_err(|panic| format!("panicked: {}", panic_message(&*panic)))?;
        let plan = outcome.plan.map_err(|e| format!("plan failed on a memory source: {e}"))?;
        for diagnostic in &plan.diagnostics {
            let position = diagnostic.location.position;
            if position.line < 1 || position.column < 1 || diagnostic.message.trim().is_empty() {
                return Err(format!("malformed diagnostic {diagnostic:?}"));
            }
        }
        if !outcome.read.contains(file) {
            return Err(format!("{reader:?} did not read the file"));
        }
        let invalid = file.is_yaml() && yaml::parse(bytes, Limits::default()).is_err();
        let reported = plan.diagnostics.iter().any(|d| {
            d.is_error()
                && d.location.file.path == file.path
                && d.location.file.pin.project == file.project
        });
        if invalid && !reported {
            let all: Vec<String> = plan.diagnostics.iter().map(ToString::to_string).collect();
            return Err(format!("invalid YAML without an error on the file; got {all:#?}"));
        }
        Ok(())
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload.downcast_ref::<&str>().map(|s| s.to_string());
    text.or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_default()
}

/// A change to a file's bytes. Positions wrap around the file's length, so that any value is a
/// valid mutation of any file.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate {
        at: usize,
    },
    /// Cut inside a multi-byte character inserted at `at`, keeping a proper prefix of it: the
    /// fixtures are ASCII, so this is how a cut lands in the middle of a UTF-8 sequence.
    TruncateInChar {
        at: usize,
        char: char,
        keep: usize,
    },
    /// A whole character where the fixtures have none: multi-byte text inside keys, values
    /// and templates, and Unicode line breaks.
    InsertChar {
        at: usize,
        char: char,
    },
    Overwrite(Vec<(usize, u8)>),
    Delete {
        start: usize,
        len: usize,
    },
    Duplicate {
        start: usize,
        len: usize,
    },
}

impl Mutation {
    fn apply(&self, original: &[u8]) -> Vec<u8> {
        let mut bytes = original.to_vec();
        let len = bytes.len();
        match self {
            Mutation::Truncate { at } => bytes.truncate(at % (len + 1)),
            Mutation::TruncateInChar { at, char, keep } => {
                bytes.truncate(at % (len + 1));
                let mut encoded = [0; 4];
                let encoded = char.encode_utf8(&mut encoded).as_bytes();
                bytes.extend(&encoded[..1 + keep % (encoded.len() - 1)]);
            }
            Mutation::InsertChar { at, char } => {
                let at = at % (len + 1);
                bytes.splice(at..at, char.to_string().into_bytes());
            }
            Mutation::Overwrite(changes) if len > 0 => {
                for &(at, byte) in changes {
                    bytes[at % len] = byte;
                }
            }
            Mutation::Overwrite(_) => {}
            Mutation::Delete { start, len: count } => {
                bytes.drain(span(*start, *count, len));
            }
            Mutation::Duplicate { start, len: count } => {
                let span = span(*start, *count, len);
                bytes.splice(span.end..span.end, original[span].to_vec());
            }
        }
        bytes
    }
}

/// `count` bytes from `start`, within a file of `len` bytes.
fn span(start: usize, count: usize, len: usize) -> std::ops::Range<usize> {
    let start = start % len.max(1);
    start..(start + count).min(len)
}

/// Bytes that mean something to YAML, to a template or to UTF-8.
const NASTY: &[u8] = &[
    0x00, 0xFF, 0xC3, 0x80, 0xE2, b':', b'-', b'[', b']', b'{', b'}', b'&', b'*', b'!', b'"',
    b'\'', b'\n', b'\r', b'\t', b' ', b'#', b'|', b'>', b'%', b'@', b'`', b',', b'?', b'\\',
];

/// Two, three and four bytes long in UTF-8.
const WIDE: &[char] = &['é', '—', '😀'];

/// Characters that are more than one byte, and some that YAML treats specially: a byte order
/// mark, next line (a line break in YAML 1.1) and the line separator.
const CHARS: &[char] = &['é', '—', '😀', '\u{feff}', '\u{85}', '\u{2028}'];

/// SplitMix64: a seeded generator, so that the sweep is the same on every run.
struct Rng(u64);

impl Rng {
    const SEED: u64 = 0x7011_6a7e;

    /// Seeded by the file's name, so that adding a fixture changes no other file's mutations.
    fn for_file(file: &FixtureFile) -> Rng {
        let name = file.to_string();
        Rng(name.bytes().fold(Rng::SEED, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A nasty byte most of the time, any byte otherwise.
    fn byte(&mut self) -> u8 {
        match self.below(4) {
            0 => self.next() as u8,
            _ => self.pick(NASTY),
        }
    }
}

/// The sweep's mutations of one file: each kind at least once.
fn sweep_mutations(bytes: &[u8], rng: &mut Rng) -> Vec<Mutation> {
    let len = bytes.len();
    let scattered =
        |rng: &mut Rng, n: usize| (0..n).map(|_| (rng.below(len), rng.byte())).collect();
    let run_start = rng.below(len);
    let few = rng.below(3) + 2;
    let run = (0..rng.below(6) + 3).map(|i| (run_start + i, rng.next() as u8)).collect();
    vec![
        Mutation::Truncate { at: rng.below(len) },
        Mutation::Truncate { at: mid_token(bytes, rng) },
        Mutation::TruncateInChar {
            at: rng.below(len),
            char: rng.pick(WIDE),
            keep: rng.below(3) + 1,
        },
        Mutation::InsertChar { at: mid_token(bytes, rng), char: rng.pick(CHARS) },
        Mutation::Overwrite(scattered(rng, 1)),
        Mutation::Overwrite(scattered(rng, few)),
        Mutation::Overwrite(run),
        Mutation::Delete { start: rng.below(len), len: rng.below(64) + 1 },
        Mutation::Duplicate { start: rng.below(len), len: rng.below(64) + 1 },
    ]
}

/// An offset inside a word (a key, a value, a template name), where a cut leaves half of it.
fn mid_token(bytes: &[u8], rng: &mut Rng) -> usize {
    let inside: Vec<usize> = (1..bytes.len())
        .filter(|&i| bytes[i - 1].is_ascii_alphanumeric() && bytes[i].is_ascii_alphanumeric())
        .collect();
    if inside.is_empty() { rng.below(bytes.len()) } else { rng.pick(&inside) }
}

/// Which sweep covers a file. Every file is of one kind, so that the sweeps together cover all.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FileKind {
    PlatformConfig,
    Instructions,
    /// Module files, dependency files and `.gitmodules`.
    Module,
}

impl FileKind {
    fn of(file: &FixtureFile) -> FileKind {
        if file.platform_config_name().is_some() {
            FileKind::PlatformConfig
        } else if file.path.as_str().starts_with("coin/instructions/") {
            FileKind::Instructions
        } else {
            FileKind::Module
        }
    }
}

/// Mutates every file of a kind in every way of the sweep; returns how many runs it made.
fn sweep(wanted: FileKind) -> usize {
    let harness = Harness::get();
    let mut runs = 0;
    let mut failures = Vec::new();
    for (file, reader) in harness.readers.iter().filter(|(file, _)| FileKind::of(file) == wanted) {
        let original = harness.bytes(file);
        let mut rng = Rng::for_file(file);
        for mutation in sweep_mutations(&original, &mut rng) {
            let bytes = mutation.apply(&original);
            if let Err(problem) = harness.check(file, reader, &bytes) {
                failures.push(format!("{file} after {mutation:?}: {problem}"));
            }
            runs += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    runs
}

#[test]
fn every_platform_configuration_file_mutated_gives_diagnostics() {
    assert!(sweep(FileKind::PlatformConfig) > 0);
}

#[test]
fn every_instruction_file_mutated_gives_diagnostics() {
    assert!(sweep(FileKind::Instructions) > 0);
}

#[test]
fn every_module_and_dependency_file_mutated_gives_diagnostics() {
    assert!(sweep(FileKind::Module) > 0);
}

/// The harness is sound: unmutated, every reader reads its file and reports no error.
#[test]
fn unmutated_fixtures_plan_without_errors() {
    let harness = Harness::get();
    assert_eq!(harness.unread, [], "files that no reader reads");
    assert_eq!(harness.readers.len(), fixture_files().len());
    for (file, reader) in &harness.readers {
        let outcome = run(&harness.source, reader, None);
        assert!(outcome.read.contains(file), "{reader:?} does not read {file}");
        let errors = errors(&outcome.plan.unwrap());
        let expected = ERRORS_HOWEVER_READ.contains(&file.path.as_str());
        assert!(errors.is_empty() || expected, "{file} via {reader:?}: {errors:#?}");
    }
}

/// `qt/qt5` platform files that give errors however they are read, for reasons outside this
/// test. They are still mutated and read like every other file.
const ERRORS_HOWEVER_READ: [&str; 4] = [
    // Fragments that no file includes at this revision; their platform dependencies are defined
    // in another file.
    "coin/platform_configs/cmake_platforms_qemu_vxworks_tests.yaml",
    "coin/platform_configs/linux_android_tests_developer.yaml",
    // Files that take MSVC2019 configurations from cmake_platforms.yaml, which no longer
    // defines any at this revision.
    "coin/platform_configs/nightly_qnx710_host_windows.yaml",
    "coin/platform_configs/tqtc-qtpip.yaml",
];

/// The plan's errors.
fn errors(plan: &Plan) -> Vec<String> {
    plan.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect()
}

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![3 => select(NASTY), 1 => any::<u8>()]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), select(WIDE), 1..4usize)
            .prop_map(|(at, char, keep)| Mutation::TruncateInChar { at, char, keep }),
        (any::<usize>(), select(CHARS)).prop_map(|(at, char)| Mutation::InsertChar { at, char }),
        prop::collection::vec((any::<usize>(), byte()), 1..8).prop_map(Mutation::Overwrite),
        (any::<usize>(), 1..128usize).prop_map(|(start, len)| Mutation::Delete { start, len }),
        (any::<usize>(), 1..128usize).prop_map(|(start, len)| Mutation::Duplicate { start, len }),
    ]
}

proptest! {
    // A case plans one module; a few dozen keep the test to seconds in a debug build.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_fixture_file_mutated_at_random_gives_diagnostics(
        index in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let harness = Harness::get();
        let (file, reader) = &harness.readers[index.index(harness.readers.len())];
        let bytes = mutations.iter().fold(harness.bytes(file), |bytes, m| m.apply(&bytes));
        if let Err(problem) = harness.check(file, reader, &bytes) {
            return Err(TestCaseError::fail(format!("{file}: {problem}")));
        }
    }
}
