//! Planning Qt modules from `../shared/coin-fixtures` with qt/qt5's platform configurations.
//!
//! The fixtures are read into a `MemorySource` once; the timed part is `plan` alone.
//! Run: `cargo bench -p tollgate-core --bench plan`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_core::plan::{PlanRequest, plan};
use tollgate_fixtures::{fixture_source, pin};

/// Projects and the configuration counts of COIN-FORMAT.md §10.2.
const MODULES: [(&str, usize); 3] = [("qt/qtbase", 80), ("qt/qtsvg", 71), ("qt/qtdeclarative", 73)];

fn plans(c: &mut Criterion) {
    let source = fixture_source();
    let mut group = c.benchmark_group("plan");
    // qtdeclarative takes ~45 ms: the default 5 s is too short for 100 samples.
    group.measurement_time(Duration::from_secs(8));
    for (project, configurations) in MODULES {
        let request = PlanRequest {
            project: pin(project),
            platforms: Some(pin("qt/qt5")),
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
