//! Derive macros for `di-core`. Use them through `di_core` with the `derive` feature.
