//! Runnable samples: see `README.md` and the `[[example]]` entries in `Cargo.toml`. This library
//! holds the set-up every sample shares (logging, settings from the environment), so each sample
//! shows only its own concept.

use std::io::IsTerminal as _;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

/// Logs to stdout, filtered by `RUST_LOG` (default `info`), in colour only on a terminal. Does
/// nothing when a global subscriber is already set.
///
/// # Examples
///
/// ```
/// samples::init_tracing();
/// tracing::info!("visible at the default level");
/// ```
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _already_set =
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(std::io::stdout().is_terminal()).try_init();
}

/// The duration in milliseconds that the environment variable `name` holds, or `default_ms`
/// when it is unset.
///
/// # Errors
///
/// When the variable is set but is not a whole number of milliseconds; the error names it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let tick = samples::env_millis("SAMPLES_DOCTEST_UNSET_MS", 250)?;
/// assert_eq!(tick, Duration::from_millis(250));
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn env_millis(name: &str, default_ms: u64) -> anyhow::Result<Duration> {
    let ms = match std::env::var(name) {
        Ok(ms) => ms.parse().map_err(|e| anyhow::anyhow!("{name}={ms:?}: {e}"))?,
        Err(_) => default_ms,
    };
    Ok(Duration::from_millis(ms))
}
