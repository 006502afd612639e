//! Runnable samples: see `README.md` and the `[[example]]` entries in `Cargo.toml`.
