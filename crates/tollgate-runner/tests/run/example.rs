//! The example project of `examples/sources` built and tested through the runner: a C library,
//! and a program that depends on it through `dependencies.yaml`.

use std::path::Path;

use crate::harness::*;

#[tokio::test]
async fn the_example_builds_tests_and_reuses_the_librarys_build() {
    let mut h = Harness::new().await;
    h.sources = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sources"));
    let greeter = h.plan("demo/greeter");

    // greeter's integration builds libgreet first, on the same configuration.
    let library = h.run(&greeter, "demo/libgreet:debian-12:Build").await;
    library.assert_passed();
    assert!(!library.finished.reused);
    let program = h.run(&greeter, "demo/greeter:debian-12:Build").await;
    program.assert_passed();
    assert!(
        program.log.contains("installed the build of demo/libgreet:debian-12:Build"),
        "{}",
        program.log
    );
    // The tests run on a fresh machine, from the Build's tests archive.
    let tests = h.run(&greeter, "demo/greeter:debian-12-tests:Test").await;
    tests.assert_passed();
    assert!(tests.out().contains(&"PASS: greeter"), "{}", tests.log);

    // libgreet's own integration plans the same build with the same key: it is not built again.
    let own = h.plan("demo/libgreet");
    let again = h.run(&own, "demo/libgreet:debian-12:Build").await;
    again.assert_passed();
    assert!(again.finished.reused, "{}", again.log);
    assert_eq!(again.finished.record, library.finished.record);
}
