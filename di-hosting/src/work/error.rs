//! `ScheduleError`: what can go wrong when registering, feeding or stopping background work.

/// An error from the timed, queued or cron building blocks: a bad schedule at registration, a
/// full or closed queue, or work abandoned at the shutdown timeout.
///
/// Messages are lowercase, name the service or job, and end with one hint.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_core::ServiceCollection;
/// use di_hosting::{BackgroundWorkExt, CancellationToken, ScheduleError, TimedOptions, TimedTask};
///
/// struct Cleanup;
/// #[async_trait::async_trait]
/// impl TimedTask for Cleanup {
///     async fn tick(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
///         Ok(())
///     }
/// }
///
/// let mut services = ServiceCollection::new();
/// let options = TimedOptions::every(Duration::ZERO).name("cleanup");
/// let err = services.add_timed_service::<Cleanup>(options).unwrap_err();
/// assert!(matches!(err, ScheduleError::ZeroPeriod { .. }));
/// assert_eq!(
///     err.to_string(),
///     "timed service `cleanup` has a zero period; give `TimedOptions::every` a period greater than zero"
/// );
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A timed service was registered with a zero period (a `Duration` cannot be negative).
    #[error("timed service `{service}` has a zero period; give `TimedOptions::every` a period greater than zero")]
    ZeroPeriod {
        /// The service's name.
        service: &'static str,
    },

    /// A service was configured to run zero units of work at a time.
    #[error("`{service}` allows zero concurrent units of work; allow at least one")]
    ZeroConcurrency {
        /// The service's name.
        service: &'static str,
    },

    /// The background task queue was configured with room for no items.
    #[error("background task queue `{queue}` has a capacity of zero; use a capacity of at least one")]
    ZeroCapacity {
        /// The queue's name.
        queue: &'static str,
    },

    /// A cron expression did not parse; `reason` is the parser's message.
    #[error(
        "invalid cron expression `{expression}` for job `{job}`: {reason}; use `sec min hour day-of-month month \
         day-of-week [year]`, or five fields without seconds"
    )]
    InvalidCron {
        /// The job's name.
        job: &'static str,
        /// The expression as given.
        expression: String,
        /// What the `cron` parser said.
        reason: String,
    },

    /// `try_enqueue` found the queue full.
    #[error(
        "background task queue `{queue}` is full ({capacity} items); await `enqueue` to wait for room, or raise \
         `QueueOptions::capacity`"
    )]
    QueueFull {
        /// The queue's name.
        queue: &'static str,
        /// How many items it holds.
        capacity: usize,
    },

    /// The queue no longer accepts work because the host is stopping.
    #[error("background task queue `{queue}` is closed because the host is stopping; new work is refused")]
    QueueClosed {
        /// The queue's name.
        queue: &'static str,
    },

    /// `add_queued_work` was called twice on one collection.
    #[error("queued background work was already added to this collection; call `add_queued_work` once")]
    QueueAlreadyAdded,

    /// The handler a service resolves for each unit of work is not registered.
    #[error(
        "no service registered for `{handler}`, the handler of `{service}`; register it (usually scoped) before `build()`"
    )]
    HandlerNotRegistered {
        /// The service's name.
        service: &'static str,
        /// The handler type, as `std::any::type_name` spells it.
        handler: &'static str,
    },

    /// `start` was called on a service that had already been started.
    #[error("`{service}` was already started; a background work service runs once per host")]
    AlreadyStarted {
        /// The service's name.
        service: &'static str,
    },

    /// Stop reached the shutdown timeout with work still running or queued; that work was
    /// abandoned (and logged).
    #[error(
        "`{service}` did not finish within the shutdown timeout: {running} running and {queued} queued units of \
         work abandoned; observe the cancellation token in long work, or raise the shutdown timeout"
    )]
    ShutdownTimedOut {
        /// The service's name.
        service: &'static str,
        /// Units of work still running when the timeout fired.
        running: usize,
        /// Units of work still waiting in the queue when the timeout fired.
        queued: usize,
    },
}
