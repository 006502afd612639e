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

    /// A timed, queued or cron service was given [`FailurePolicy::Restart`], which only
    /// background services support: a unit of work has no `execute` to call again.
    ///
    /// [`FailurePolicy::Restart`]: crate::FailurePolicy::Restart
    #[error(
        "`{service}` was given `FailurePolicy::Restart`, which applies to background services only; use \
         `FailurePolicy::Ignore` to keep running after a failed unit of work (the next one still runs), or \
         `FailurePolicy::StopHost` to stop the host"
    )]
    RestartNotSupported {
        /// The service's name.
        service: &'static str,
    },

    /// `start` was called on a service that had already been started.
    #[error("`{service}` was already started; a background work service runs once per host")]
    AlreadyStarted {
        /// The service's name.
        service: &'static str,
    },

    /// A timed service or cron job reached the shutdown timeout with units still running
    /// although their token fired when stopping began; they were abandoned (and logged).
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

    /// Queued work reached the shutdown timeout: under [`QueueStopPolicy::Drain`] the queue was
    /// not drained in time (the running items' token fired at the timeout); under
    /// [`QueueStopPolicy::Cancel`] items kept running although their token fired when stopping
    /// began. Names the items cut off and those that never started.
    ///
    /// [`QueueStopPolicy::Drain`]: crate::QueueStopPolicy::Drain
    /// [`QueueStopPolicy::Cancel`]: crate::QueueStopPolicy::Cancel
    #[error("{}", queue_stop_message(service, *policy, *drained, running, not_started))]
    QueueStopTimedOut {
        /// The service's name.
        service: &'static str,
        /// The policy it stopped under.
        policy: crate::QueueStopPolicy,
        /// Items that finished (completed, failed or cancelled) while stopping.
        drained: usize,
        /// The items running at the timeout.
        running: Vec<String>,
        /// The items still queued, never started, dropped.
        not_started: Vec<String>,
    },
}

fn names(count: usize, names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    let noun = if count == 1 { "item" } else { "items" };
    if quoted.is_empty() { format!("{count} {noun}") } else { format!("{count} {noun} ({})", quoted.join(", ")) }
}

fn queue_stop_message(
    service: &str,
    policy: crate::QueueStopPolicy,
    drained: usize,
    running: &[String],
    not_started: &[String],
) -> String {
    let running_list = names(running.len(), running);
    let dropped = names(not_started.len(), not_started);
    match policy {
        crate::QueueStopPolicy::Cancel => format!(
            "`{service}` did not stop within the shutdown timeout: {running_list} still running although their \
             token fired when stopping began; {dropped} never started; return from long items when \
             `WorkContext::cancel` fires, or raise the shutdown timeout"
        ),
        _ => format!(
            "`{service}` did not drain its queue within the shutdown timeout: {drained} finished while stopping, \
             {running_list} still running when the timeout fired their token, {dropped} never started; raise the \
             shutdown timeout, or use `QueueStopPolicy::Cancel` to cancel items as soon as stopping begins"
        ),
    }
}
