//! One unit of background work (a tick, a queued item, a cron firing) in a fresh scope, and the
//! start/stop bookkeeping the timed, queued and cron services share.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use di_core::error::panic_message;
use di_core::{ResolveError, Resolver, ScopeFactory, ServiceProvider};
use futures_util::FutureExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::{ApplicationLifetime, ScheduleError};

/// What a timed, queued or cron service does when a unit of work fails or panics.
///
/// Either way the failure is logged (at `error`, with the service name) and counted.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_hosting::{FailurePolicy, TimedOptions};
///
/// let options = TimedOptions::every(Duration::from_secs(60)).on_failure(FailurePolicy::StopHost);
/// assert_eq!(FailurePolicy::default(), FailurePolicy::Log);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Log the failure and keep going: later ticks, items and firings still run. The default.
    #[default]
    Log,
    /// Log the failure, schedule no further work, and ask the host to stop
    /// ([`ApplicationLifetime::stop_application`]).
    StopHost,
}

/// Counts of finished units of work for one service, readable while it runs. The queued-work
/// service registers its counters as a singleton: resolve `WorkMetrics` to read them.
///
/// # Examples
///
/// ```
/// use di_core::ServiceCollection;
/// use di_hosting::{BackgroundWorkExt, QueueOptions, WorkMetrics};
///
/// let mut services = ServiceCollection::new();
/// services.add_queued_work(QueueOptions::default())?;
/// let provider = services.build()?;
/// let metrics = provider.get::<WorkMetrics>()?;
/// assert_eq!((metrics.completed(), metrics.failed(), metrics.running()), (0, 0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct WorkMetrics {
    completed: AtomicUsize,
    failed: AtomicUsize,
    running: AtomicUsize,
    abandoned: AtomicUsize,
}

impl WorkMetrics {
    /// Units of work that finished with `Ok`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_hosting::WorkMetrics::default().completed(), 0);
    /// ```
    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }

    /// Units of work that returned an error, panicked, or whose handler or scope failed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_hosting::WorkMetrics::default().failed(), 0);
    /// ```
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    /// Units of work running right now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_hosting::WorkMetrics::default().running(), 0);
    /// ```
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Units of work given up at the shutdown timeout: still running, or still queued.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_hosting::WorkMetrics::default().abandoned(), 0);
    /// ```
    pub fn abandoned(&self) -> usize {
        self.abandoned.load(Ordering::SeqCst)
    }

    pub(crate) fn add_abandoned(&self, count: usize) {
        self.abandoned.fetch_add(count, Ordering::SeqCst);
    }
}

/// Runs `body` with a fresh scope's provider, then disposes the scope (awaiting async hooks)
/// whether the body succeeded, failed or panicked. Logs any failure with the service name.
/// Returns whether the unit succeeded.
pub(crate) async fn run_in_scope<F, Fut>(scopes: &ScopeFactory, service: &'static str, what: &str, body: F) -> bool
where
    F: FnOnce(Arc<ServiceProvider>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    // The body gets a handle to the scope, not its owner: the scope ends here, whatever the body
    // keeps.
    let created = scopes.create_scope().and_then(|scope| {
        let services = scope.provider().get::<ServiceProvider>()?;
        Ok((scope, services))
    });
    let (scope, services) = match created {
        Ok(created) => created,
        Err(error) => {
            tracing::error!(service, %error, "{what} could not run: no scope");
            return false;
        }
    };
    let result = AssertUnwindSafe(async move { body(services).await }).catch_unwind().await;
    let disposed = scope.dispose().await;
    let succeeded = match result {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::error!(service, error = format!("{error:#}"), "{what} failed");
            false
        }
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::error!(service, "{what} panicked with message {message:?}");
            false
        }
    };
    match disposed {
        Ok(()) => succeeded,
        Err(error) => {
            tracing::error!(service, %error, "{what}: disposing its scope failed");
            false
        }
    }
}

/// The shared machinery of one background work service: its name, its failure policy, the task
/// tracker that owns its loop and its units of work, and the token that stops them.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) name: &'static str,
    on_failure: FailurePolicy,
    scopes: Arc<ScopeFactory>,
    lifetime: Option<Arc<ApplicationLifetime>>,
    /// Cancelled when the work must stop now: ends the loop and is the units' token.
    pub(crate) stopping: CancellationToken,
    tracker: TaskTracker,
    permits: Arc<Semaphore>,
    started: AtomicBool,
    pub(crate) metrics: Arc<WorkMetrics>,
}

impl Worker {
    /// Resolves the scope factory and (when a host registered one) the application lifetime.
    pub(crate) fn new(
        provider: &Resolver<'_>,
        name: &'static str,
        on_failure: FailurePolicy,
        max_concurrent: usize,
        metrics: Arc<WorkMetrics>,
    ) -> Result<Self, ResolveError> {
        Ok(Self {
            name,
            on_failure,
            scopes: provider.get::<ScopeFactory>()?,
            lifetime: provider.resolve::<Option<Arc<ApplicationLifetime>>>()?,
            stopping: CancellationToken::new(),
            tracker: TaskTracker::new(),
            permits: Arc::new(Semaphore::new(max_concurrent)),
            started: AtomicBool::new(false),
            metrics,
        })
    }

    /// Checks the handler is registered, then spawns the service's loop on its tracker.
    pub(crate) fn start<H: ?Sized + 'static>(
        &self,
        run: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        if self.started.swap(true, Ordering::SeqCst) {
            return Err(ScheduleError::AlreadyStarted { service: self.name }.into());
        }
        let probe = self.scopes.create_scope()?;
        if !probe.provider().contains::<H>() {
            let handler = std::any::type_name::<H>();
            return Err(ScheduleError::HandlerNotRegistered { service: self.name, handler }.into());
        }
        drop(probe);
        // A root span: the loop outlives the host's start phase, whose span is current here.
        let span = tracing::info_span!(parent: None, "background_work", service = self.name);
        self.tracker.spawn(run.instrument(span));
        tracing::debug!(service = self.name, "started");
        Ok(())
    }

    /// Sleeps until `deadline`; `false` when the work must stop first.
    pub(crate) async fn sleep_until(&self, deadline: Instant) -> bool {
        tokio::select! {
            biased;
            () = self.stopping.cancelled() => false,
            () = tokio::time::sleep_until(deadline) => true,
        }
    }

    /// A slot for one unit of work, and whether it had to be waited for (the previous unit was
    /// still running); `None` when the work must stop first.
    pub(crate) async fn acquire(&self) -> Option<(OwnedSemaphorePermit, bool)> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Some((permit, false));
        }
        tokio::select! {
            biased;
            () = self.stopping.cancelled() => None,
            permit = self.permits.clone().acquire_owned() => permit.ok().map(|permit| (permit, true)),
        }
    }

    /// Spawns one unit of work in a fresh scope; it holds `permit` until it ends.
    pub(crate) fn spawn_unit<F, Fut>(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        what: &'static str,
        span: tracing::Span,
        body: F,
    ) where
        F: FnOnce(Arc<ServiceProvider>) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let worker = Arc::clone(self);
        self.metrics.running.fetch_add(1, Ordering::SeqCst);
        self.tracker.spawn(
            async move {
                let succeeded = run_in_scope(&worker.scopes, worker.name, what, body).await;
                worker.metrics.running.fetch_sub(1, Ordering::SeqCst);
                drop(permit);
                if succeeded {
                    worker.metrics.completed.fetch_add(1, Ordering::SeqCst);
                } else {
                    worker.metrics.failed.fetch_add(1, Ordering::SeqCst);
                    worker.on_failed();
                }
            }
            .instrument(span),
        );
    }

    fn on_failed(&self) {
        if self.on_failure != FailurePolicy::StopHost {
            return;
        }
        self.stopping.cancel();
        match &self.lifetime {
            Some(lifetime) => {
                tracing::error!(service = self.name, "failure policy is StopHost: stopping the host");
                lifetime.stop_application();
            }
            None => tracing::error!(
                service = self.name,
                "failure policy is StopHost: no further work is scheduled, but no host is running to stop"
            ),
        }
    }

    /// Waits for the loop and every unit of work until `timeout` fires, cancelling `stopping`
    /// first when `cancel_first` (timed and cron work) or only at the timeout (queued work, which
    /// drains). At the timeout, counts what is still running, adds `queued()` and reports both.
    pub(crate) async fn stop(
        &self,
        timeout: CancellationToken,
        cancel_first: bool,
        queued: impl FnOnce() -> usize,
    ) -> Result<(), ScheduleError> {
        if cancel_first {
            self.stopping.cancel();
        }
        self.tracker.close();
        let finished = tokio::select! {
            biased;
            () = self.tracker.wait() => true,
            () = timeout.cancelled() => false,
        };
        if finished {
            tracing::debug!(service = self.name, "stopped");
            return Ok(());
        }
        self.stopping.cancel();
        let running = self.metrics.running();
        let queued = queued();
        self.metrics.add_abandoned(running + queued);
        tracing::warn!(
            service = self.name,
            running,
            queued,
            "shutdown timeout reached: abandoning work still running or queued"
        );
        Err(ScheduleError::ShutdownTimedOut { service: self.name, running, queued })
    }
}
