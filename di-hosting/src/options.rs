//! `HostOptions`: timeouts, concurrency and the background-service failure policy; `FailurePolicy`.

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
/// | `background_service_failure` | [`FailurePolicy::StopHost`] |
/// | `suppress_status_messages` | `false` |
///
/// # Comparison to .NET
///
/// The fields mirror .NET's `HostOptions`. The shutdown timeout keeps the 5 s default of the
/// original documents (.NET 7 raised it to 30 s), and [`FailurePolicy::Restart`] goes
/// beyond `BackgroundServiceExceptionBehavior`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_hosting::{FailurePolicy, HostOptions};
///
/// let mut options = HostOptions::default();
/// assert_eq!(options.shutdown_timeout, Duration::from_secs(5));
/// options.shutdown_timeout = Duration::from_secs(30);
/// options.background_service_failure = FailurePolicy::Ignore;
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
    pub background_service_failure: FailurePolicy,
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
            background_service_failure: FailurePolicy::StopHost,
            suppress_status_messages: false,
        }
    }
}

/// What happens when a unit of background code fails: a
/// [`BackgroundService`](crate::BackgroundService)'s `execute` (policy:
/// [`HostOptions::background_service_failure`], default [`StopHost`](Self::StopHost)), or a
/// unit of timed, queued or cron work (policy: `TimedOptions::on_failure`,
/// `QueueOptions::on_failure`, `CronOptions::on_failure`, default [`Ignore`](Self::Ignore)).
///
/// Failing means returning `Err` or panicking; returning `Ok` is never a failure. Every failure
/// is logged at error level with the service's name, and shows in
/// [`Host::status`](crate::Host::status). A unit of work that returns an error after its token
/// fired (the service is stopping) was cancelled, not failed: it is logged at `info`, counted in
/// [`WorkMetrics::cancelled`](crate::WorkMetrics::cancelled), and no policy applies.
///
/// The enum has no `Default`: each place that takes one documents its own default.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_hosting::{FailurePolicy, HostOptions, TimedOptions};
///
/// assert_eq!(HostOptions::default().background_service_failure, FailurePolicy::StopHost);
/// let retry = FailurePolicy::Restart { backoff: Duration::from_secs(1), max_restarts: 3 };
/// let host = di_hosting::Host::builder().background_service_failure(retry).build()?;
/// assert_eq!(host.options().background_service_failure, retry);
/// let ticks = TimedOptions::every(Duration::from_secs(60)).on_failure(FailurePolicy::StopHost);
/// # Ok::<(), di_hosting::HostError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Stop the host and report the failure: a background service's failure is in the
    /// [`StopReport`](crate::StopReport) and the run exits with a non-zero code; a timed, queued
    /// or cron service schedules no further work and asks the host to stop
    /// ([`ApplicationLifetime::stop_application`](crate::ApplicationLifetime::stop_application)).
    /// The default for background services.
    StopHost,
    /// Keep the host running and do not change the exit code. A background service is not
    /// restarted (its status shows the failure); for timed, queued and cron work, later ticks,
    /// items and firings still run. The default for units of work.
    Ignore,
    /// Background services only: call `execute` again after `backoff`, at most `max_restarts`
    /// times over the host's life; one more failure is then handled as
    /// [`StopHost`](Self::StopHost). Timed, queued and cron work reject it at registration
    /// ([`ScheduleError::RestartNotSupported`](crate::ScheduleError::RestartNotSupported)): their
    /// next tick, item or firing already runs after a failure under [`Ignore`](Self::Ignore).
    Restart {
        /// How long to wait before each restart.
        backoff: Duration,
        /// How many restarts are allowed.
        max_restarts: u32,
    },
}
