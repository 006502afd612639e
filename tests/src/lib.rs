//! Cross-crate scenarios and compile-fail tests live in `tests/`.
