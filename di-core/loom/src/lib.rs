//! Loom model checking of `di-core`'s own synchronisation protocols.
//!
//! This crate has no API: its models live in `tests/loom.rs` and are compiled only with
//! `RUSTFLAGS="--cfg loom"`, which makes `di-core` (and `event-listener`) use loom's primitives
//! so the model checker explores every interleaving of the singleton claim, the scoped claim,
//! the wait/wake protocol and disposal. Run them as `.ci/run` does:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test -p di-core-loom --release --locked --test loom
//! ```
//!
//! They are a separate crate because `di-core`'s dev-dependencies (tokio) do not build with
//! `--cfg loom`.
