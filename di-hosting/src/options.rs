//! `HostOptions`: timeouts, concurrency and the background-service failure policy.

use std::time::Duration;

/// How the host starts and stops its services. Registered in the host's container as a
/// singleton, so services can read it (`provider.get::<HostOptions>()`).
///
/// Build one from [`HostOptions::default`] and change the fields you need, or use the matching
/// [`HostBuilder`](crate::HostBuilder) methods.
///
/// | field | default |
/// | --- | --- |
/// | `shutdown_timeout` | 5 s |
/// | `startup_timeout` | none (wait as long as start-up takes) |
/// | `services_start_concurrently` | `false` |
/// | `services_stop_concurrently` | `false` |
/// | `background_service_failure` | [`BackgroundServiceFailure::StopHost`] |
/// | `suppress_status_messages` | `false` |
///
/// # Comparison to .NET
///
/// The fields mirror .NET's `HostOptions`. The shutdown timeout keeps the 5 s default of the
/// original documents (.NET 7 raised it to 30 s), and [`BackgroundServiceFailure::Restart`] goes
/// beyond `BackgroundServiceExceptionBehavior`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_hosting::{BackgroundServiceFailure, HostOptions};
///
/// let mut options = HostOptions::default();
/// assert_eq!(options.shutdown_timeout, Duration::from_secs(5));
/// options.shutdown_timeout = Duration::from_secs(30);
/// options.background_service_failure = BackgroundServiceFailure::Ignore;
/// let host = di_hosting::Host::builder().options(options).build()?;
/// assert_eq!(host.options().shutdown_timeout, Duration::from_secs(30));
/// # Ok::<(), di_hosting::HostError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostOptions {
    /// How long [`Host::stop`](crate::Host::stop) waits for services and background tasks to
    /// stop; `run` disposes the container within what is left of it. When it expires, the stop
    /// token is cancelled, services and tasks still running are abandoned and named in the
    /// [`StopReport`](crate::StopReport) (as is an unfinished disposal), and `stop` returns. A
    /// stop requested during start-up also gives the services still starting this long to
    /// return. Zero abandons any service that does not stop at its first poll; `Duration::MAX`
    /// waits forever.
    pub shutdown_timeout: Duration,
    /// How long start-up may take before it is aborted with
    /// [`HostError::StartupTimeout`](crate::HostError::StartupTimeout). `None` waits forever.
    pub startup_timeout: Option<Duration>,
    /// Start services concurrently instead of one after another (in each phase).
    pub services_start_concurrently: bool,
    /// Stop services concurrently instead of one after another, in reverse order (in each phase).
    pub services_stop_concurrently: bool,
    /// What happens when a [`BackgroundService`](crate::BackgroundService) fails or panics.
    pub background_service_failure: BackgroundServiceFailure,
    /// Do not log `Application started. Press Ctrl+C to shut down.` and the stopping / stopped
    /// lines.
    pub suppress_status_messages: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            shutdown_timeout: Duration::from_secs(5),
            startup_timeout: None,
            services_start_concurrently: false,
            services_stop_concurrently: false,
            background_service_failure: BackgroundServiceFailure::StopHost,
            suppress_status_messages: false,
        }
    }
}

/// What the host does when a [`BackgroundService`](crate::BackgroundService)'s `execute`
/// returns `Err` or panics. Returning `Ok` is never a failure and never stops the host.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_hosting::BackgroundServiceFailure;
///
/// assert_eq!(BackgroundServiceFailure::default(), BackgroundServiceFailure::StopHost);
/// let retry = BackgroundServiceFailure::Restart { backoff: Duration::from_secs(1), max_restarts: 3 };
/// assert_ne!(retry, BackgroundServiceFailure::Ignore);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackgroundServiceFailure {
    /// Log the failure at error level, stop the host, and report it: the run ends with a
    /// non-zero exit code.
    #[default]
    StopHost,
    /// Log the failure at error level and keep the host running; the service is not restarted
    /// and the failure does not change the exit code.
    Ignore,
    /// Log the failure and call `execute` again after `backoff`, at most `max_restarts` times
    /// over the host's life; one more failure is then handled as [`StopHost`](Self::StopHost).
    Restart {
        /// How long to wait before each restart.
        backoff: Duration,
        /// How many restarts are allowed.
        max_restarts: u32,
    },
}
