//! Timed services: a handler resolved from a fresh scope on every tick, with no overlap by
//! default and an explicit missed-tick policy.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use di_core::{ResolveError, Resolver};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::work::unit::{Units, Worker, check_policy};
use crate::{FailurePolicy, HostedService, ScheduleError, WorkMetrics};

/// The work a timed service does on every tick.
///
/// The handler is resolved **from a fresh scope on every tick**, so register it scoped (or
/// transient) with its dependencies; the scope is disposed, async hooks awaited, when the tick
/// ends, even if it failed or panicked. `cancel` fires when the host stops (or a failure stops
/// it): finish or give up promptly. Returning `Err` or panicking is logged with the service name
/// and, under [`FailurePolicy::Ignore`], later ticks still run.
///
/// The trait is object safe: `T` in [`add_timed_service::<T>`](crate::BackgroundWorkExt::add_timed_service)
/// may be a concrete type or `dyn YourTrait` where `trait YourTrait: TimedTask`.
///
/// # Examples
///
/// ```
/// use di_hosting::{CancellationToken, TimedTask};
///
/// struct PurgeExpiredSessions;
///
/// #[async_trait::async_trait]
/// impl TimedTask for PurgeExpiredSessions {
///     async fn tick(&self, cancel: CancellationToken) -> anyhow::Result<()> {
///         if !cancel.is_cancelled() {
///             tracing::info!("purging");
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait TimedTask: Send + Sync + 'static {
    /// Does one tick's work.
    async fn tick(&self, cancel: CancellationToken) -> anyhow::Result<()>;
}

/// What a timed service does with ticks that fell due while earlier ticks were still running
/// (every allowed tick slot was busy).
///
/// With period 10 s and a first tick that takes 35 s (later ticks instant), the ticks start at:
///
/// | policy | ticks in the first minute | start times (s) |
/// | --- | --- | --- |
/// | `Skip` | 3 | 0, 40, 50 |
/// | `Delay` | 4 | 0, 35, 45, 55 |
/// | `Burst` | 6 | 0, 35, 35, 35, 40, 50 |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_hosting::{MissedTickPolicy, TimedOptions};
///
/// let options = TimedOptions::every(Duration::from_secs(10)).missed_tick(MissedTickPolicy::Delay);
/// assert_eq!(MissedTickPolicy::default(), MissedTickPolicy::Skip);
/// ```
///
/// A tick is missed only when it falls due while the previous tick (every allowed tick, with
/// [`TimedOptions::max_concurrent_ticks`]) is really still running; a tick that is late because
/// the timer or the runtime woke late still runs.
///
/// # Comparison to `tokio::time::MissedTickBehavior`
///
/// The schedule is a tokio [`Interval`](tokio::time::Interval). `Delay` and `Burst` mean what
/// they mean for it. `Skip` differs: tokio runs one late tick at once and then realigns, and
/// counts a tick as missed when the timer wakes late; here only ticks that fell due while a tick
/// was running are dropped, and the work never starts off the original grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissedTickPolicy {
    /// Drop missed ticks; the next tick starts at the next slot of the original schedule
    /// (`first + k * period`). The default.
    #[default]
    Skip,
    /// Run one tick as soon as a slot frees up, and restart the schedule from there.
    Delay,
    /// Run every missed tick, back to back, until caught up; the schedule is unchanged.
    Burst,
}

/// How a timed service is scheduled: its period, first delay, missed-tick policy, overlap and
/// failure handling.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_hosting::{FailurePolicy, MissedTickPolicy, TimedOptions};
///
/// let options = TimedOptions::every(Duration::from_secs(30))
///     .first_delay(Duration::from_secs(5))
///     .missed_tick(MissedTickPolicy::Burst)
///     .max_concurrent_ticks(2)
///     .on_failure(FailurePolicy::StopHost)
///     .name("report-generator");
/// assert_eq!(options.period(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
pub struct TimedOptions {
    period: Duration,
    first_delay: Duration,
    missed_tick: MissedTickPolicy,
    max_concurrent_ticks: usize,
    on_failure: FailurePolicy,
    name: Option<&'static str>,
}

impl TimedOptions {
    /// Ticks every `period`, the first one at once; no overlap, missed ticks skipped, failures
    /// logged. A zero period is rejected at registration ([`ScheduleError::ZeroPeriod`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = di_hosting::TimedOptions::every(std::time::Duration::from_secs(5));
    /// ```
    pub fn every(period: Duration) -> Self {
        Self {
            period,
            first_delay: Duration::ZERO,
            missed_tick: MissedTickPolicy::Skip,
            max_concurrent_ticks: 1,
            on_failure: FailurePolicy::Ignore,
            name: None,
        }
    }

    /// The period given to [`every`](Self::every).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(di_hosting::TimedOptions::every(Duration::from_secs(5)).period(), Duration::from_secs(5));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits `delay` after start before the first tick (default: none).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = di_hosting::TimedOptions::every(Duration::from_secs(5)).first_delay(Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn first_delay(mut self, delay: Duration) -> Self {
        self.first_delay = delay;
        self
    }

    /// What to do with ticks that fell due while every tick slot was busy (default:
    /// [`MissedTickPolicy::Skip`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use di_hosting::{MissedTickPolicy, TimedOptions};
    /// let options = TimedOptions::every(Duration::from_secs(5)).missed_tick(MissedTickPolicy::Burst);
    /// ```
    #[must_use]
    pub fn missed_tick(mut self, policy: MissedTickPolicy) -> Self {
        self.missed_tick = policy;
        self
    }

    /// Lets up to `max` ticks run at once (default 1: a tick never starts while the previous one
    /// runs). Zero is rejected at registration ([`ScheduleError::ZeroConcurrency`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = di_hosting::TimedOptions::every(Duration::from_secs(5)).max_concurrent_ticks(3);
    /// ```
    #[must_use]
    pub fn max_concurrent_ticks(mut self, max: usize) -> Self {
        self.max_concurrent_ticks = max;
        self
    }

    /// What a failing or panicking tick does (default: [`FailurePolicy::Ignore`]).
    /// [`FailurePolicy::Restart`] is rejected at registration
    /// ([`ScheduleError::RestartNotSupported`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use di_hosting::{FailurePolicy, TimedOptions};
    /// let options = TimedOptions::every(Duration::from_secs(5)).on_failure(FailurePolicy::StopHost);
    /// ```
    #[must_use]
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.on_failure = policy;
        self
    }

    /// The name used in logs, spans and errors (default: the handler's type name).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = di_hosting::TimedOptions::every(Duration::from_secs(5)).name("heartbeat");
    /// ```
    #[must_use]
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    /// Checks the options and returns the service name.
    pub(crate) fn validate<T: ?Sized>(&self) -> Result<&'static str, ScheduleError> {
        let service = self.name.unwrap_or_else(std::any::type_name::<T>);
        if self.period.is_zero() {
            return Err(ScheduleError::ZeroPeriod { service });
        }
        if self.max_concurrent_ticks == 0 {
            return Err(ScheduleError::ZeroConcurrency { service });
        }
        check_policy(service, self.on_failure)?;
        Ok(service)
    }
}

/// The hosted service behind [`add_timed_service`](crate::BackgroundWorkExt::add_timed_service):
/// `start` spawns the schedule and returns at once; `stop` cancels the running tick and waits for
/// it until the shutdown timeout, then reports it as abandoned.
pub(crate) struct TimedService<T: ?Sized> {
    worker: Arc<Worker>,
    options: TimedOptions,
    handler: PhantomData<fn() -> Arc<T>>,
}

impl<T: ?Sized + TimedTask> TimedService<T> {
    pub(crate) fn new(
        provider: &Resolver<'_>,
        name: &'static str,
        options: TimedOptions,
    ) -> Result<Self, ResolveError> {
        let metrics = Arc::new(WorkMetrics::default());
        let worker = Worker::new(provider, name, options.on_failure, metrics, true)?;
        Ok(Self { worker: Arc::new(worker), options, handler: PhantomData })
    }
}

impl<T: ?Sized> std::fmt::Debug for TimedService<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedService").field("worker", &self.worker).field("options", &self.options).finish()
    }
}

#[async_trait]
impl<T: ?Sized + TimedTask> HostedService for TimedService<T> {
    async fn start(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        let run = run_schedule::<T>(Arc::clone(&self.worker), self.options.clone());
        self.worker.start::<T>(self, run)
    }

    async fn stop(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(self.worker.stop(&cancel).await?)
    }

    fn name(&self) -> &'static str {
        self.worker.name
    }
}

/// The schedule loop: an [`Interval`] on the original grid, whose ticks run as units of work in
/// fresh scopes. A tick that falls due while every slot is busy (a tick is really still
/// running) is missed and handled per the policy; a tick that is merely late (the timer or the
/// runtime woke late) still runs.
async fn run_schedule<T: ?Sized + TimedTask>(worker: Arc<Worker>, options: TimedOptions) {
    let worker = &*worker;
    let Some(first) = Instant::now().checked_add(options.first_delay) else {
        tracing::warn!(service = worker.name, "the first delay is too long to schedule: no ticks");
        return;
    };
    let mut interval = tokio::time::interval_at(first, options.period);
    // `Skip` keeps the grid, but drops only the slots a tick was still running on: tokio's own
    // `Skip` would also drop slots the timer merely woke late for.
    interval.set_missed_tick_behavior(match options.missed_tick {
        MissedTickPolicy::Skip | MissedTickPolicy::Burst => MissedTickBehavior::Burst,
        MissedTickPolicy::Delay => MissedTickBehavior::Delay,
    });
    let mut units = Units::new(options.max_concurrent_ticks);
    let mut number = 0_u64;
    loop {
        let due = tokio::select! {
            biased;
            () = worker.stopping.cancelled() => break,
            () = units.next_end() => continue,
            due = interval.tick(), if !units.is_full() => due,
        };
        if units.were_busy_at(due) && options.missed_tick == MissedTickPolicy::Skip {
            tracing::debug!(service = worker.name, "tick skipped: the previous one was still running when it fell due");
            continue;
        }
        number += 1;
        let cancel = CancellationToken::clone(&worker.stopping);
        let span = tracing::info_span!("tick", number);
        units.push(
            worker.unit(
                "tick",
                span,
                move |services| async move { services.get_async::<T>().await?.tick(cancel).await },
            ),
        );
    }
    units.finish().await;
}
