//! Compile-fail tests (trybuild) for the registration and lookup API: misuse the type system
//! rejects, each with an error that says what to write instead. Regenerate the `.stderr`
//! snapshots with `TRYBUILD=overwrite` when the toolchain changes, and review them.

#[test]
fn api_misuse() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/api_ui/*.rs");
}
