//! Compile-fail tests (trybuild): misuse of `#[derive(Injectable)]` and of the injection traits
//! is a compile error whose message says what to write instead. Regenerate the `.stderr`
//! snapshots with `TRYBUILD=overwrite` when the toolchain changes, and review them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
