//! One unit of background work (a tick, a queued item, a cron firing) in a fresh scope, and the
//! start/stop bookkeeping the timed, queued and cron services share.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use di_core::error::panic_message;
use di_core::{ResolveError, Resolver, ScopeFactory, ServiceProvider};
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::status::{StatusBoard, StatusSlot};
use crate::tasks::HostTasks;
use crate::{ApplicationLifetime, FailurePolicy, HostedService, ScheduleError};

/// Counts of finished units of work for one service, readable while it runs. The queued-work
/// service registers its counters as a singleton: resolve `WorkMetrics` to read them. In a host,
/// every timed, cron and queued service's metrics are also in its
/// [`ServiceStatus::metrics`](crate::ServiceStatus::metrics).
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
    cancelled: AtomicUsize,
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

    /// Units of work that returned an error after their token fired: they were cancelled by
    /// the service stopping, which is not a failure.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_hosting::WorkMetrics::default().cancelled(), 0);
    /// ```
    pub fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
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

/// Rejects [`FailurePolicy::Restart`] for a timed, queued or cron service: a unit of work has no
/// `execute` to call again, and its next unit already runs after a failure under `Ignore`.
pub(crate) fn check_policy(service: &'static str, policy: FailurePolicy) -> Result<(), ScheduleError> {
    match policy {
        FailurePolicy::Restart { .. } => Err(ScheduleError::RestartNotSupported { service }),
        _ => Ok(()),
    }
}

/// How one unit of work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Completed,
    /// Returned an error after its token fired: stopped, not failed.
    Cancelled,
    Failed,
}

/// The shared machinery of one background work service: its name, its failure policy, the
/// host's tasks its loop runs on, and the token that stops its units.
///
/// The service's loop is one task on the host's [`HostTasks`] (a standalone one outside a
/// host); its units of work run inside that task ([`Units`]), each with panics caught, so a
/// unit costs no task of its own and the loop's end is the end of all its work.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) name: &'static str,
    on_failure: FailurePolicy,
    scopes: Arc<ScopeFactory>,
    lifetime: Option<Arc<ApplicationLifetime>>,
    tasks: Arc<HostTasks>,
    status: Option<Arc<StatusBoard>>,
    /// This registration's entry on the host's board, found when the service starts.
    slot: OnceLock<StatusSlot>,
    /// Cancelled when the work must stop now: ends the loop and is the units' token (shared:
    /// cloning the `Arc` for a unit is cheaper than cloning the token).
    pub(crate) stopping: Arc<CancellationToken>,
    /// Set by [`halt`](Self::halt): read once per unit by loops that take work without waiting
    /// (a token's `is_cancelled` takes a lock).
    halted: AtomicBool,
    /// Cancelled when the loop task has ended, and with it every unit it ran.
    done: CancellationToken,
    started: AtomicBool,
    pub(crate) metrics: Arc<WorkMetrics>,
}

impl Worker {
    /// Resolves the scope factory, the host's tasks and (in a host) the application lifetime and
    /// status board, to which the metrics are attached at start. `linked`: whether the units' token is a
    /// child of the host's root token (fires as soon as the host stops) or fires only when this
    /// service says so (queued work that drains).
    pub(crate) fn new(
        provider: &Resolver<'_>,
        name: &'static str,
        on_failure: FailurePolicy,
        metrics: Arc<WorkMetrics>,
        linked: bool,
    ) -> Result<Self, ResolveError> {
        let tasks = provider.resolve::<Option<Arc<HostTasks>>>()?.unwrap_or_default();
        let status = provider.resolve::<Option<Arc<StatusBoard>>>()?;
        Ok(Self {
            name,
            on_failure,
            scopes: provider.get::<ScopeFactory>()?,
            lifetime: provider.resolve::<Option<Arc<ApplicationLifetime>>>()?,
            stopping: Arc::new(if linked { tasks.child_token() } else { CancellationToken::new() }),
            tasks,
            status,
            slot: OnceLock::new(),
            halted: AtomicBool::new(false),
            done: CancellationToken::new(),
            started: AtomicBool::new(false),
            metrics,
        })
    }

    /// Stops the work now: no further unit starts, and the units' token fires.
    pub(crate) fn halt(&self) {
        self.halted.store(true, Ordering::Release);
        self.stopping.cancel();
    }

    /// Whether [`halt`](Self::halt) was called. (The token may also fire from the host's root
    /// token; loops see that where they wait.)
    pub(crate) fn is_halted(&self) -> bool {
        self.halted.load(Ordering::Acquire)
    }

    /// A token that fires when the host stops (a child of its root token).
    pub(crate) fn host_stopping(&self) -> CancellationToken {
        self.tasks.child_token()
    }

    /// Checks the handler is registered, then spawns the service's loop on the host's tasks.
    /// `service` is the hosted service this worker runs: in a host, its metrics and successes
    /// are recorded on that registration's status entry.
    pub(crate) fn start<H: ?Sized + 'static>(
        &self,
        service: &dyn HostedService,
        run: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        if self.started.swap(true, Ordering::SeqCst) {
            return Err(ScheduleError::AlreadyStarted { service: self.name }.into());
        }
        if let Some(slot) = self.status.as_ref().and_then(|board| StatusSlot::find(board, service)) {
            slot.attach_metrics(Arc::clone(&self.metrics));
            let _ = self.slot.set(slot);
        }
        // `build()` checks this when validation is on; this covers a container built without.
        let probe = self.scopes.create_scope()?;
        if !probe.provider().contains::<H>() {
            let handler = std::any::type_name::<H>();
            return Err(ScheduleError::HandlerNotRegistered { service: self.name, handler }.into());
        }
        drop(probe);
        // A root span: the loop outlives the host's start phase, whose span is current here.
        let span = tracing::info_span!(parent: None, "background_work", service = self.name);
        let done = self.done.clone().drop_guard();
        self.tasks.spawn(
            self.name,
            async move {
                let _done = done;
                run.await;
            }
            .instrument(span),
        );
        tracing::debug!(service = self.name, "started");
        Ok(())
    }

    /// Waits for the loop and every unit of work to end; `false` when `timeout` fires first.
    pub(crate) async fn wait(&self, timeout: &CancellationToken) -> bool {
        if !self.started.load(Ordering::SeqCst) {
            return true;
        }
        tokio::select! {
            biased;
            () = self.done.cancelled() => true,
            () = timeout.cancelled() => false,
        }
    }

    /// Stops timed and cron work: cancels the units' token, waits for them until `timeout`
    /// fires, then reports what is still running.
    pub(crate) async fn stop(&self, timeout: &CancellationToken) -> Result<(), ScheduleError> {
        self.halt();
        if self.wait(timeout).await {
            tracing::debug!(service = self.name, "stopped");
            return Ok(());
        }
        let running = self.metrics.running();
        self.metrics.add_abandoned(running);
        tracing::warn!(
            service = self.name,
            running,
            "shutdown timeout reached: abandoning work still running or queued"
        );
        Err(ScheduleError::ShutdownTimedOut { service: self.name, running, queued: 0 })
    }

    /// One unit of work in a fresh scope, counted and logged. Run it on the loop's [`Units`];
    /// a loop that awaits one unit at a time calls [`begin_unit`](Self::begin_unit) and awaits
    /// [`run_unit`](Self::run_unit) itself (one future fewer per unit).
    pub(crate) fn unit<'a, F, Fut>(
        &'a self,
        what: &'static str,
        span: tracing::Span,
        body: F,
    ) -> impl Future<Output = ()> + Send + 'a
    where
        F: FnOnce(Arc<ServiceProvider>) -> Fut + Send + 'a,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'a,
    {
        self.begin_unit();
        async move {
            // Instrumented only when the span is enabled: a disabled one costs a move of the unit.
            if span.is_disabled() {
                self.run_unit(what, body).await;
            } else {
                self.run_unit(what, body).instrument(span).await;
            }
        }
    }

    /// Counts a unit as running, before [`run_unit`](Self::run_unit) runs it.
    pub(crate) fn begin_unit(&self) {
        self.metrics.running.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs `body` with a fresh scope's provider, then disposes the scope (awaiting async hooks)
    /// whether the body succeeded, failed or panicked; then counts the outcome and applies the
    /// failure policy. Logs the outcome with the service name: a failure at `error`, an error
    /// returned after the units' token fired at `info`, as a cancellation.
    pub(crate) async fn run_unit<F, Fut>(&self, what: &'static str, body: F)
    where
        F: FnOnce(Arc<ServiceProvider>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let service = self.name;
        // The body gets a handle to the scope, not its owner: the scope ends here, whatever the
        // body keeps.
        let created = self.scopes.create_scope().and_then(|scope| {
            let services = scope.provider().get::<ServiceProvider>()?;
            Ok((scope, services))
        });
        let outcome = match created {
            Ok((scope, services)) => {
                // Panics are caught both when the body is called and while it runs.
                let result = match std::panic::catch_unwind(AssertUnwindSafe(|| body(services))) {
                    Ok(work) => AssertUnwindSafe(work).catch_unwind().await,
                    Err(panic) => Err(panic),
                };
                let disposed = scope.dispose().await;
                let outcome = match result {
                    Ok(Ok(())) => Outcome::Completed,
                    Ok(Err(error)) if self.stopping.is_cancelled() => {
                        tracing::info!(
                            service,
                            error = format!("{error:#}"),
                            "{what} cancelled: the service is stopping"
                        );
                        Outcome::Cancelled
                    }
                    Ok(Err(error)) => {
                        tracing::error!(service, error = format!("{error:#}"), "{what} failed");
                        Outcome::Failed
                    }
                    Err(panic) => {
                        let message = panic_message(panic.as_ref());
                        tracing::error!(service, "{what} panicked with message {message:?}");
                        Outcome::Failed
                    }
                };
                match disposed {
                    Ok(()) => outcome,
                    Err(error) => {
                        tracing::error!(service, %error, "{what}: disposing its scope failed");
                        Outcome::Failed
                    }
                }
            }
            Err(error) => {
                tracing::error!(service, %error, "{what} could not run: no scope");
                Outcome::Failed
            }
        };
        self.metrics.running.fetch_sub(1, Ordering::SeqCst);
        match outcome {
            Outcome::Completed => {
                self.metrics.completed.fetch_add(1, Ordering::SeqCst);
                if let Some(slot) = self.slot.get() {
                    slot.record_success();
                }
            }
            Outcome::Cancelled => {
                self.metrics.cancelled.fetch_add(1, Ordering::SeqCst);
            }
            Outcome::Failed => {
                self.metrics.failed.fetch_add(1, Ordering::SeqCst);
                self.on_failed();
            }
        }
    }

    fn on_failed(&self) {
        // `Restart` is rejected at registration ([`check_policy`]).
        if self.on_failure != FailurePolicy::StopHost {
            return;
        }
        self.halt();
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
}

type Unit<'a> = Pin<Box<dyn Future<Output = Instant> + Send + 'a>>;

/// The units of work a service's loop runs at once, up to its limit, inside the loop's own task
/// (no task per unit): the loop drives them while it waits for its next unit.
pub(crate) struct Units<'a> {
    running: FuturesUnordered<Unit<'a>>,
    max: usize,
    /// When every slot last became busy, and when one freed up again (if it has): a unit due
    /// in between found every slot busy.
    full_since: Option<Instant>,
    freed: Option<Instant>,
}

impl std::fmt::Debug for Units<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Units").field("running", &self.running.len()).field("max", &self.max).finish()
    }
}

impl<'a> Units<'a> {
    pub(crate) fn new(max: usize) -> Self {
        Self { running: FuturesUnordered::new(), max, full_since: None, freed: None }
    }

    /// Whether every slot is busy.
    pub(crate) fn is_full(&self) -> bool {
        self.running.len() >= self.max
    }

    /// Whether every slot was busy at `due`: units started before it still ran then. (A unit
    /// started late, after `due`, does not count.)
    pub(crate) fn were_busy_at(&self, due: Instant) -> bool {
        let busy_from = self.full_since.is_some_and(|since| since <= due);
        busy_from && self.freed.is_none_or(|freed| freed > due)
    }

    /// Starts `unit`; it runs while the loop awaits [`next_end`](Self::next_end) or
    /// [`finish`](Self::finish).
    pub(crate) fn push(&mut self, unit: impl Future<Output = ()> + Send + 'a) {
        self.running.push(Box::pin(async move {
            unit.await;
            Instant::now()
        }));
        if self.is_full() {
            self.full_since = Some(Instant::now());
            self.freed = None;
        }
    }

    /// Drives the running units until one ends (pending forever while none runs).
    pub(crate) async fn next_end(&mut self) {
        match self.running.next().await {
            Some(end) => {
                if self.running.len() + 1 == self.max {
                    self.freed = Some(end);
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Drives `future` to its end while running the units.
    pub(crate) async fn drive<T>(&mut self, future: impl Future<Output = T>) -> T {
        let mut future = pin!(future);
        loop {
            tokio::select! {
                biased;
                () = self.next_end() => {}
                value = &mut future => return value,
            }
        }
    }

    /// Runs every unit to its end.
    pub(crate) async fn finish(&mut self) {
        while self.running.next().await.is_some() {}
    }
}
