//! `BackgroundWorkExt`: registers timed services, queued work and cron jobs on a
//! `ServiceCollection`.

use std::sync::Arc;

use di_core::{BoxError, Lifetime, Registration, Resolver, ServiceCollection, Source};

use crate::work::cron::{self, CronService};
use crate::work::queued::QueuedWorkService;
use crate::work::timed::TimedService;
use crate::{
    BackgroundTaskQueue, BoundedTaskQueue, CronJob, CronOptions, HostedService, QueueOptions, ScheduleError,
    TimedOptions, TimedTask, WorkMetrics,
};

/// Registers background work as hosted services: each call adds one singleton
/// `dyn HostedService` that the host starts and stops with the others.
///
/// Every unit of work (a tick, a queued item, a cron firing) runs in a fresh DI scope: the
/// handler is resolved from it, run, and the scope disposed (async hooks awaited) when the unit
/// ends, even if it failed or panicked. Bad options are rejected here, at registration.
///
/// # Stopping
///
/// `start` spawns the service's loop on the host's tasks and returns at once; the units of work
/// run inside that loop's task, panics caught. On `stop`, timed services and cron jobs cancel
/// the running units' token and wait for them; queued work refuses new items
/// ([`ScheduleError::QueueClosed`]) and follows its [`QueueStopPolicy`](crate::QueueStopPolicy):
/// it drains what is queued, cancelling the items' token only at the shutdown timeout (`Drain`,
/// the default), or cancels at once and drops what never started (`Cancel`). What is still
/// running at the shutdown timeout is logged and reported from `stop`
/// ([`ScheduleError::ShutdownTimedOut`], [`ScheduleError::QueueStopTimedOut`] with the items'
/// names); running units are not aborted, their token is cancelled. A unit that returns an error
/// after its token fired was cancelled, not failed (logged at `info`). Failures follow each
/// service's [`FailurePolicy`](crate::FailurePolicy).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use chrono::{DateTime, Utc};
/// use di_core::ServiceCollection;
/// use di_hosting::{BackgroundWorkExt, CancellationToken, CronJob, CronOptions, HostedService, QueueOptions,
///                  TimedOptions, TimedTask};
///
/// struct Heartbeat;
/// #[async_trait::async_trait]
/// impl TimedTask for Heartbeat {
///     async fn tick(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
///         Ok(())
///     }
/// }
///
/// struct Nightly;
/// #[async_trait::async_trait]
/// impl CronJob for Nightly {
///     async fn run(&self, _firing: DateTime<Utc>, _cancel: CancellationToken) -> anyhow::Result<()> {
///         Ok(())
///     }
/// }
///
/// let mut services = ServiceCollection::new();
/// services.add_scoped::<Heartbeat>(|_| Ok(std::sync::Arc::new(Heartbeat)));
/// services.add_scoped::<Nightly>(|_| Ok(std::sync::Arc::new(Nightly)));
/// services.add_timed_service::<Heartbeat>(TimedOptions::every(Duration::from_secs(10)))?;
/// services.add_cron_job::<Nightly>("0 0 3 * * *", CronOptions::default())?;
/// services.add_queued_work(QueueOptions::default())?;
/// let provider = services.build()?;
/// assert_eq!(provider.resolve::<Vec<std::sync::Arc<dyn HostedService>>>()?.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait BackgroundWorkExt {
    /// Runs `T::tick` on a schedule: at once (or after [`TimedOptions::first_delay`]), then every
    /// period; no overlap unless [`TimedOptions::max_concurrent_ticks`] allows it; missed ticks
    /// per [`TimedOptions::missed_tick`]. `T` is resolved from a fresh scope on every tick, so
    /// register it (usually scoped) too: `build()` reports a missing `T`. Returns the
    /// registration of the service's `dyn HostedService` entry.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::ZeroPeriod`], [`ScheduleError::ZeroConcurrency`],
    /// [`ScheduleError::RestartNotSupported`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use di_core::ServiceCollection;
    /// use di_hosting::{BackgroundWorkExt, CancellationToken, TimedOptions, TimedTask};
    ///
    /// trait ScopedProcessingService: TimedTask {}
    /// struct Processor;
    /// #[async_trait::async_trait]
    /// impl TimedTask for Processor {
    ///     async fn tick(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
    ///         Ok(())
    ///     }
    /// }
    /// impl ScopedProcessingService for Processor {}
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<dyn ScopedProcessingService>(|_| Ok(Arc::new(Processor)));
    /// services.add_timed_service::<dyn ScopedProcessingService>(TimedOptions::every(Duration::from_secs(10)))?;
    /// # use std::sync::Arc;
    /// # Ok::<(), di_hosting::ScheduleError>(())
    /// ```
    fn add_timed_service<T>(
        &mut self,
        options: TimedOptions,
    ) -> Result<Registration<'_, dyn HostedService>, ScheduleError>
    where
        T: ?Sized + TimedTask;

    /// Adds a [`BackgroundTaskQueue`] (a [`BoundedTaskQueue`] of [`QueueOptions::capacity`],
    /// unless one is registered already), its [`WorkMetrics`], and the service that drains it.
    /// Enqueue work by resolving `dyn BackgroundTaskQueue`.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::ZeroCapacity`], [`ScheduleError::ZeroConcurrency`],
    /// [`ScheduleError::RestartNotSupported`], [`ScheduleError::QueueAlreadyAdded`] on a second
    /// call.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::ServiceCollection;
    /// use di_hosting::{BackgroundTaskQueue, BackgroundWorkExt, QueueOptions};
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add_queued_work(QueueOptions::default().capacity(10))?;
    /// let provider = services.build()?;
    /// assert!(provider.get::<dyn BackgroundTaskQueue>()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn add_queued_work(&mut self, options: QueueOptions) -> Result<Registration<'_, dyn HostedService>, ScheduleError>;

    /// Runs `T::run` at every firing of the cron `expression` (six fields with seconds, an
    /// optional year, or five without seconds), read in [`CronOptions::time_zone`] (UTC by
    /// default). `T` is resolved from a fresh scope at every firing.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::InvalidCron`] with the parser's message and the job's name;
    /// [`ScheduleError::ZeroConcurrency`], [`ScheduleError::RestartNotSupported`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use di_core::ServiceCollection;
    /// use di_hosting::{BackgroundWorkExt, CancellationToken, CronJob, CronOptions, ScheduleError};
    ///
    /// struct Purge;
    /// #[async_trait::async_trait]
    /// impl CronJob for Purge {
    ///     async fn run(&self, _firing: DateTime<Utc>, _cancel: CancellationToken) -> anyhow::Result<()> {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add_cron_job::<Purge>("0 */5 * * * *", CronOptions::default())?;
    /// let err = services.add_cron_job::<Purge>("every day", CronOptions::default().name("purge")).unwrap_err();
    /// assert!(err.to_string().starts_with("invalid cron expression `every day` for job `purge`: "));
    /// # Ok::<(), ScheduleError>(())
    /// ```
    fn add_cron_job<T>(
        &mut self,
        expression: &str,
        options: CronOptions,
    ) -> Result<Registration<'_, dyn HostedService>, ScheduleError>
    where
        T: ?Sized + CronJob;
}

/// The key of the registrations through which a work service declares its handler.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct HandlerOf;

/// Declares that the work service `S` resolves its handler `H` from a fresh scope for every
/// unit of work, so that `build()` reports a missing handler (named, and named as what `S`
/// needs). A scoped registration never resolved: a singleton declaring a scoped handler would
/// be reported as a captive.
fn declare_handler<S: Send + Sync + 'static, H: ?Sized + Send + Sync + 'static>(services: &mut ServiceCollection) {
    let unreachable = |_: &Resolver<'_>| -> Result<Arc<S>, BoxError> {
        Err("a declaration of the handler a work service resolves, never resolved itself".into())
    };
    services.keyed(HandlerOf).add(Lifetime::Scoped, Source::<S>::from_fn(unreachable)).depends_on::<Arc<H>>();
}

impl BackgroundWorkExt for ServiceCollection {
    fn add_timed_service<T>(
        &mut self,
        options: TimedOptions,
    ) -> Result<Registration<'_, dyn HostedService>, ScheduleError>
    where
        T: ?Sized + TimedTask,
    {
        let name = options.validate::<T>()?;
        declare_handler::<TimedService<T>, T>(self);
        let mut registration = self.add_singleton::<dyn HostedService>(move |provider| {
            Ok(Arc::new(TimedService::<T>::new(provider, name, options.clone())?))
        });
        registration.lifetime_fixed();
        Ok(registration)
    }

    fn add_queued_work(&mut self, options: QueueOptions) -> Result<Registration<'_, dyn HostedService>, ScheduleError> {
        options.validate()?;
        if self.iter().any(|s| s.is::<WorkMetrics>() && !s.is_keyed()) {
            return Err(ScheduleError::QueueAlreadyAdded);
        }
        let capacity = options.capacity_value();
        self.try_add(
            Lifetime::Singleton,
            Source::<dyn BackgroundTaskQueue>::from_fn(move |_| {
                Ok::<_, BoxError>(Arc::new(BoundedTaskQueue::new(capacity)))
            }),
        );
        self.add_singleton::<WorkMetrics>(|_| Ok(Arc::new(WorkMetrics::default())));
        let mut registration = self.add_singleton::<dyn HostedService>(move |provider| {
            Ok(Arc::new(QueuedWorkService::new(provider, &options)?))
        });
        registration.depends_on::<Arc<dyn BackgroundTaskQueue>>().depends_on::<Arc<WorkMetrics>>().lifetime_fixed();
        Ok(registration)
    }

    fn add_cron_job<T>(
        &mut self,
        expression: &str,
        options: CronOptions,
    ) -> Result<Registration<'_, dyn HostedService>, ScheduleError>
    where
        T: ?Sized + CronJob,
    {
        let (name, schedule) = cron::prepare::<T>(expression, &options)?;
        declare_handler::<CronService<T>, T>(self);
        let mut registration = self.add_singleton::<dyn HostedService>(move |provider| {
            Ok(Arc::new(CronService::<T>::new(provider, name, schedule.clone(), options.clone())?))
        });
        registration.lifetime_fixed();
        Ok(registration)
    }
}
