//! Planning Qt modules from `../shared/coin-fixtures` with qt/qt5's platform configurations.
//!
//! The fixtures are read into a `MemorySource` once; the timed part is `plan` alone.
//! Run: `cargo bench -p tollgate-core --bench plan`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_core::plan::{PlanRequest, plan};
use tollgate_core::source::{MemorySource, Pin, ProjectName, Revision};

/// Projects, their revisions from SOURCES.md, and the configuration counts of
/// COIN-FORMAT.md §10.2.
const MODULES: [(&str, &str, usize); 3] = [
    ("qt/qtbase", "4678d96d874c21b69f4942e3bfdc5fc97128cf4e", 80),
    ("qt/qtsvg", "127d518bf3b0e313c584975363a5a83634e03422", 71),
    ("qt/qtdeclarative", "a4a90222aee5db576963ac641d7bb8203e5b1b84", 73),
];
const QT5: (&str, &str) = ("qt/qt5", "0face339463cd41e0b4eb22b4dcf936eb345005b");

fn fixture_source() -> MemorySource {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/coin-fixtures");
    assert!(
        dir.is_dir(),
        "the Coin fixtures are missing: expected {} (../shared beside the repository)",
        dir.display()
    );
    let mut source = MemorySource::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures readable") {
        let path = entry.expect("fixtures readable").path();
        if path.is_dir() {
            // Folder `qt+qtbase` is project `qt/qtbase`.
            let project = path.file_name().unwrap().to_string_lossy().replace('+', "/");
            for (relative, bytes) in files(&path) {
                source.add(&project, &relative, bytes);
            }
        }
    }
    source
}

/// Every file under `base`, by its `/`-separated path relative to `base`.
fn files(base: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![base.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixtures readable") {
            let path = entry.expect("fixtures readable").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative =
                    path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
                out.push((relative, std::fs::read(&path).expect("fixture readable")));
            }
        }
    }
    out
}

fn pin((project, revision): (&str, &str)) -> Pin {
    Pin::new(ProjectName::new(project).unwrap(), Revision::new(revision))
}

fn plans(c: &mut Criterion) {
    let source = fixture_source();
    let mut group = c.benchmark_group("plan");
    // qtdeclarative takes ~45 ms: the default 5 s is too short for 100 samples.
    group.measurement_time(Duration::from_secs(8));
    for (project, revision, configurations) in MODULES {
        let request = PlanRequest {
            project: pin((project, revision)),
            platforms: Some(pin(QT5)),
            salt: "bench".into(),
        };
        // Once, untimed: the bench must measure a complete, clean plan, not an early failure.
        let checked = plan(&source, &request).expect("a memory source does not fail");
        assert_eq!(checked.configurations.len(), configurations, "{project}");
        let errors: Vec<String> =
            checked.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{project}: {errors:#?}");

        group.bench_function(project, |b| {
            b.iter(|| plan(black_box(&source), black_box(&request)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, plans);
criterion_main!(benches);
