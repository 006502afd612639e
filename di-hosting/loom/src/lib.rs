//! Loom model checking of `di-hosting`'s own synchronisation: the status board's state protocol.
//!
//! This crate has no API: its models live in `tests/loom.rs` and are compiled only with
//! `RUSTFLAGS="--cfg loom"`. They include `di-hosting/src/status/kinds.rs` itself, whose
//! primitives are then loom's, so the model checker explores every interleaving of plain kinds
//! set without the lock, kinds with data set under it, and snapshots. Run them as `.ci/run` does:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p di-hosting-loom --release --locked --test loom
//! ```
//!
//! They do not depend on `di-hosting`, whose tokio does not build with `--cfg loom`.
