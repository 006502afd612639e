//! Cron jobs: a handler resolved from a fresh scope at every firing of a cron schedule, with no
//! overlap by default and an explicit misfire policy.

use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, Local, TimeZone, Utc};
use di_core::{ResolveError, Resolver};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::work::unit::{Units, Worker, check_policy};
use crate::{FailurePolicy, HostedService, ScheduleError, WorkMetrics};

/// The work a cron job does at each firing.
///
/// Resolved **from a fresh scope at every firing** (the Quartz "scoped job factory"): register it
/// scoped (or transient). `firing` is the scheduled time, in UTC, the run stands for; `cancel`
/// fires when the host stops. Returning `Err` or panicking is logged with the job's name.
///
/// # Examples
///
/// ```
/// use chrono::{DateTime, Utc};
/// use di_hosting::{CancellationToken, CronJob};
///
/// struct NightlyReport;
///
/// #[async_trait::async_trait]
/// impl CronJob for NightlyReport {
///     async fn run(&self, firing: DateTime<Utc>, _cancel: CancellationToken) -> anyhow::Result<()> {
///         tracing::info!(%firing, "building the report");
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait CronJob: Send + Sync + 'static {
    /// Runs the job for the firing scheduled at `firing`.
    async fn run(&self, firing: DateTime<Utc>, cancel: CancellationToken) -> anyhow::Result<()>;
}

/// The wall clock a cron job reads to compute its next firing. Sleeping is always done on tokio's
/// clock; only "what time is it" comes from here, so tests can make it deterministic.
///
/// # Examples
///
/// ```
/// use chrono::{DateTime, Utc};
/// use di_hosting::Clock;
///
/// #[derive(Debug)]
/// struct Frozen(DateTime<Utc>);
/// impl Clock for Frozen {
///     fn now(&self) -> DateTime<Utc> {
///         self.0
///     }
/// }
/// ```
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock (`Utc::now()`), the default.
///
/// # Examples
///
/// ```
/// use di_hosting::{Clock, SystemClock};
/// assert!(SystemClock.now().timestamp() > 0);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A wall clock that starts at a chosen time and then follows tokio's clock, so under paused
/// time (`#[tokio::test(start_paused = true)]`) cron firings are exact and instant.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use di_hosting::{Clock, TokioClock};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
/// let clock = TokioClock::starting_at(start);
/// tokio::time::sleep(std::time::Duration::from_secs(90)).await;
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2024, 1, 1, 0, 1, 30).unwrap());
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall: DateTime<Utc>,
    origin: Instant,
}

impl TokioClock {
    /// A clock reading `wall` now. Must be called within a tokio runtime with the time driver
    /// when time is paused, like any `tokio::time::Instant::now()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = di_hosting::TokioClock::starting_at(chrono::Utc::now());
    /// ```
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        Self { wall, origin: Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::TimeDelta::from_std(self.origin.elapsed()).unwrap_or(chrono::TimeDelta::MAX);
        self.wall.checked_add_signed(elapsed).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The time zone a cron expression is read in.
///
/// # Examples
///
/// ```
/// use chrono::FixedOffset;
/// use di_hosting::{CronOptions, CronTimeZone};
///
/// let paris_in_winter = FixedOffset::east_opt(3600).unwrap();
/// let options = CronOptions::default().time_zone(CronTimeZone::Fixed(paris_in_winter));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CronTimeZone {
    /// UTC, the default.
    #[default]
    Utc,
    /// The machine's local time zone (daylight-saving changes included).
    Local,
    /// A fixed offset from UTC.
    Fixed(FixedOffset),
}

/// What a cron job does with firings it could not start on time, because the previous run was
/// still going or the machine was busy or asleep (more than the misfire threshold late).
///
/// # Examples
///
/// ```
/// use di_hosting::{CronOptions, MisfirePolicy};
/// let options = CronOptions::default().misfire(MisfirePolicy::FireOnce);
/// assert_eq!(MisfirePolicy::default(), MisfirePolicy::Skip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MisfirePolicy {
    /// Drop missed firings; wait for the next one after now. The default.
    #[default]
    Skip,
    /// Run once now for the first missed firing, folding in any later missed ones; then wait for
    /// the next firing after now.
    FireOnce,
}

/// Options for [`add_cron_job`](crate::BackgroundWorkExt::add_cron_job).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_hosting::{CronOptions, CronTimeZone, FailurePolicy, MisfirePolicy};
///
/// let options = CronOptions::default()
///     .time_zone(CronTimeZone::Local)
///     .misfire(MisfirePolicy::FireOnce)
///     .misfire_threshold(Duration::from_secs(30))
///     .on_failure(FailurePolicy::Ignore)
///     .name("nightly-report");
/// ```
#[derive(Debug, Clone)]
pub struct CronOptions {
    time_zone: CronTimeZone,
    misfire: MisfirePolicy,
    misfire_threshold: Duration,
    max_concurrent_runs: usize,
    on_failure: FailurePolicy,
    clock: Arc<dyn Clock>,
    name: Option<&'static str>,
}

impl Default for CronOptions {
    fn default() -> Self {
        Self {
            time_zone: CronTimeZone::Utc,
            misfire: MisfirePolicy::Skip,
            misfire_threshold: Duration::from_secs(1),
            max_concurrent_runs: 1,
            on_failure: FailurePolicy::Ignore,
            clock: Arc::new(SystemClock),
            name: None,
        }
    }
}

impl CronOptions {
    /// The zone the expression is read in (default UTC).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{CronOptions, CronTimeZone};
    /// let options = CronOptions::default().time_zone(CronTimeZone::Local);
    /// ```
    #[must_use]
    pub fn time_zone(mut self, zone: CronTimeZone) -> Self {
        self.time_zone = zone;
        self
    }

    /// What to do with firings that could not start on time (default [`MisfirePolicy::Skip`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{CronOptions, MisfirePolicy};
    /// let options = CronOptions::default().misfire(MisfirePolicy::FireOnce);
    /// ```
    #[must_use]
    pub fn misfire(mut self, policy: MisfirePolicy) -> Self {
        self.misfire = policy;
        self
    }

    /// How late a firing may start and still count as on time (default 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = di_hosting::CronOptions::default().misfire_threshold(std::time::Duration::from_secs(60));
    /// ```
    #[must_use]
    pub fn misfire_threshold(mut self, threshold: Duration) -> Self {
        self.misfire_threshold = threshold;
        self
    }

    /// Lets up to `max` runs overlap (default 1: a firing never starts while the previous run
    /// goes on). Zero is rejected at registration.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = di_hosting::CronOptions::default().max_concurrent_runs(2);
    /// ```
    #[must_use]
    pub fn max_concurrent_runs(mut self, max: usize) -> Self {
        self.max_concurrent_runs = max;
        self
    }

    /// What a failing or panicking run does (default: [`FailurePolicy::Ignore`]).
    /// [`FailurePolicy::Restart`] is rejected at registration
    /// ([`ScheduleError::RestartNotSupported`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{CronOptions, FailurePolicy};
    /// let options = CronOptions::default().on_failure(FailurePolicy::StopHost);
    /// ```
    #[must_use]
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.on_failure = policy;
        self
    }

    /// The wall clock used to compute firings (default [`SystemClock`]); tests pass a
    /// [`TokioClock`].
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{CronOptions, SystemClock};
    /// let options = CronOptions::default().clock(SystemClock);
    /// ```
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The name used in logs, spans and errors (default: the job's type name).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = di_hosting::CronOptions::default().name("nightly-report");
    /// ```
    #[must_use]
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }
}

/// A parsed cron expression read in a time zone.
///
/// Six fields `sec min hour day-of-month month day-of-week`, an optional seventh `year`, or the
/// classic five without seconds (read as second 0). Shorthands such as `@daily` work too.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use di_hosting::{CronSchedule, CronTimeZone};
///
/// let every_five_minutes = CronSchedule::parse("*/5 * * * *", CronTimeZone::Utc, "example")?;
/// let start = Utc.with_ymd_and_hms(2024, 3, 1, 10, 2, 0).unwrap();
/// assert_eq!(every_five_minutes.next_after(start), Some(Utc.with_ymd_and_hms(2024, 3, 1, 10, 5, 0).unwrap()));
/// # Ok::<(), di_hosting::ScheduleError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CronSchedule {
    schedule: cron::Schedule,
    zone: CronTimeZone,
}

impl CronSchedule {
    /// Parses `expression`; `job` names the job in the error.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::InvalidCron`] with the parser's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{CronSchedule, CronTimeZone, ScheduleError};
    /// let err = CronSchedule::parse("61 * * * * *", CronTimeZone::Utc, "cleanup").unwrap_err();
    /// assert!(matches!(err, ScheduleError::InvalidCron { job: "cleanup", .. }));
    /// ```
    pub fn parse(expression: &str, zone: CronTimeZone, job: &'static str) -> Result<Self, ScheduleError> {
        let normalised = match expression.split_whitespace().count() {
            5 => format!("0 {expression}"),
            _ => expression.to_owned(),
        };
        let schedule = cron::Schedule::from_str(&normalised).map_err(|error| ScheduleError::InvalidCron {
            job,
            expression: expression.to_owned(),
            reason: error.to_string().trim().to_owned(),
        })?;
        Ok(Self { schedule, zone })
    }

    /// The first firing strictly after `after`, or `None` when the schedule has no more.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use di_hosting::{CronSchedule, CronTimeZone};
    /// let yearly = CronSchedule::parse("0 0 0 1 1 * 2020", CronTimeZone::Utc, "once")?;
    /// assert_eq!(yearly.next_after(Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap()), None);
    /// # Ok::<(), di_hosting::ScheduleError>(())
    /// ```
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.zone {
            CronTimeZone::Utc => next_in(&self.schedule, after, &Utc),
            CronTimeZone::Local => next_in(&self.schedule, after, &Local),
            CronTimeZone::Fixed(offset) => next_in(&self.schedule, after, &offset),
        }
    }
}

fn next_in<Z: TimeZone>(schedule: &cron::Schedule, after: DateTime<Utc>, zone: &Z) -> Option<DateTime<Utc>> {
    schedule.after(&after.with_timezone(zone)).next().map(|firing| firing.with_timezone(&Utc))
}

/// The hosted service behind [`add_cron_job`](crate::BackgroundWorkExt::add_cron_job).
pub(crate) struct CronService<T: ?Sized> {
    worker: Arc<Worker>,
    schedule: CronSchedule,
    options: CronOptions,
    job: PhantomData<fn() -> Arc<T>>,
}

impl<T: ?Sized + CronJob> CronService<T> {
    pub(crate) fn new(
        provider: &Resolver<'_>,
        name: &'static str,
        schedule: CronSchedule,
        options: CronOptions,
    ) -> Result<Self, ResolveError> {
        let metrics = Arc::new(WorkMetrics::default());
        let worker = Worker::new(provider, name, options.on_failure, metrics, true)?;
        Ok(Self { worker: Arc::new(worker), schedule, options, job: PhantomData })
    }
}

impl<T: ?Sized> std::fmt::Debug for CronService<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronService").field("worker", &self.worker).field("schedule", &self.schedule).finish()
    }
}

#[async_trait]
impl<T: ?Sized + CronJob> HostedService for CronService<T> {
    async fn start(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        let run = run_cron::<T>(Arc::clone(&self.worker), self.schedule.clone(), self.options.clone());
        self.worker.start::<T>(self, run)
    }

    async fn stop(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(self.worker.stop(&cancel).await?)
    }

    fn name(&self) -> &'static str {
        self.worker.name
    }
}

/// Validates the options and the expression; returns the job name and the schedule.
pub(crate) fn prepare<T: ?Sized>(
    expression: &str,
    options: &CronOptions,
) -> Result<(&'static str, CronSchedule), ScheduleError> {
    let job = options.name.unwrap_or_else(std::any::type_name::<T>);
    let schedule = CronSchedule::parse(expression, options.time_zone, job)?;
    if options.max_concurrent_runs == 0 {
        return Err(ScheduleError::ZeroConcurrency { service: job });
    }
    check_policy(job, options.on_failure)?;
    Ok((job, schedule))
}

/// The firing loop: sleeps (on tokio's clock) until the next firing computed from the wall clock,
/// waits for a free slot, applies the misfire policy when late, and runs each firing as a unit of
/// work in its own scope.
async fn run_cron<T: ?Sized + CronJob>(worker: Arc<Worker>, schedule: CronSchedule, options: CronOptions) {
    let worker = &*worker;
    let clock = &options.clock;
    let mut units = Units::new(options.max_concurrent_runs);
    let mut after = clock.now();
    'firings: loop {
        let Some(due) = schedule.next_after(after) else {
            tracing::info!(service = worker.name, "the cron schedule has no further firings");
            break;
        };
        // Re-check the wall clock after each sleep: it may have moved differently from tokio's.
        while let Some(wait) = (due - clock.now()).to_std().ok().filter(|wait| !wait.is_zero()) {
            let Some(deadline) = Instant::now().checked_add(wait) else { break 'firings };
            let sleep = worker.stopping.run_until_cancelled(tokio::time::sleep_until(deadline));
            if units.drive(sleep).await.is_none() {
                break 'firings;
            }
        }
        while units.is_full() {
            tokio::select! {
                biased;
                () = worker.stopping.cancelled() => break 'firings,
                () = units.next_end() => {}
            }
        }
        let now = clock.now();
        let late = (now - due).to_std().is_ok_and(|late| late > options.misfire_threshold);
        after = if late { now } else { due };
        if late && options.misfire == MisfirePolicy::Skip {
            tracing::warn!(service = worker.name, %due, "cron firing missed; skipped");
            continue;
        }
        if late {
            tracing::warn!(service = worker.name, %due, "cron firing missed; running it once now");
        }
        let cancel = CancellationToken::clone(&worker.stopping);
        let span = tracing::info_span!("cron_firing", firing = %due);
        units.push(worker.unit("cron firing", span, move |services| async move {
            services.get_async::<T>().await?.run(due, cancel).await
        }));
    }
    units.finish().await;
}
