//! The host's state, shared by the `Host`, its handles and the tasks running its start-up and
//! shutdown: one start-up and one shutdown, whoever asks and however often.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use di_core::ServiceProvider;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing::instrument::WithSubscriber as _;

use crate::background::BackgroundFailures;
use crate::error::{HostError, Phase, ReportBuilder, StopReport};
use crate::hosted_service::HostedService;
use crate::lifetime::ApplicationLifetime;
use crate::options::HostOptions;
use crate::phase::{PhaseOutcome, PhasePlan, run_phase};
use crate::shutdown::{Deadline, Grace, StopClock};
use crate::status::StatusBoard;
use crate::tasks::HostTasks;

const START: [Phase; 3] = [Phase::Starting, Phase::Start, Phase::Started];
const STOP: [Phase; 3] = [Phase::Stopping, Phase::Stop, Phase::Stopped];

/// Where the host is in its life. Only the start-up task leaves `Starting`, and only the
/// shutdown task leaves `Started`, so a stop can never be overwritten by a start finishing.
enum State {
    Created,
    Starting,
    /// The services, and those with lifecycle hooks (see `StatusBoard::register`), in
    /// registration order.
    Started(Vec<Arc<dyn HostedService>>, Vec<usize>),
    /// Start-up failed; the services that had started were stopped again.
    StartFailed,
    Stopping,
    Stopped,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Created => f.write_str("Created"),
            Self::Starting => f.write_str("Starting"),
            Self::Started(services, _) => {
                f.debug_tuple("Started").field(&services.iter().map(|s| s.name()).collect::<Vec<_>>()).finish()
            }
            Self::StartFailed => f.write_str("StartFailed"),
            Self::Stopping => f.write_str("Stopping"),
            Self::Stopped => f.write_str("Stopped"),
        }
    }
}

/// Everything the host owns.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) provider: Arc<ServiceProvider>,
    pub(crate) lifetime: Arc<ApplicationLifetime>,
    pub(crate) options: HostOptions,
    pub(crate) status: Arc<StatusBoard>,
    pub(crate) tasks: Arc<HostTasks>,
    failures: Arc<BackgroundFailures>,
    state: Mutex<State>,
    /// When the application was first asked to stop: start-up gets one shutdown timeout from then.
    clock: Arc<StopClock>,
    /// Abandon whatever still runs, now: a second signal, or the bound of `stop_within`.
    pub(crate) force: CancellationToken,
    /// Cancelled once start-up has finished, either way.
    start_settled: CancellationToken,
    shutdown_begun: AtomicBool,
    /// Cancelled when the shutdown begins.
    pub(crate) shutdown_requested: CancellationToken,
    /// When the shutdown's timeout expires (what disposal may still use); set when it begins.
    shutdown_at: std::sync::OnceLock<Option<Instant>>,
    report: std::sync::OnceLock<StopReport>,
    /// Cancelled once the shutdown has finished and its report is set.
    finished: CancellationToken,
}

/// The pieces the builder hands over.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) provider: Arc<ServiceProvider>,
    pub(crate) lifetime: Arc<ApplicationLifetime>,
    pub(crate) options: HostOptions,
    pub(crate) failures: Arc<BackgroundFailures>,
    pub(crate) tasks: Arc<HostTasks>,
    pub(crate) status: Arc<StatusBoard>,
}

/// Armed while start-up runs: if it is dropped before it ends, it ends as failed.
struct Unsettled<'a>(&'a Shared);

impl Drop for Unsettled<'_> {
    fn drop(&mut self) {
        *self.0.state() = State::StartFailed;
        self.0.start_settled.cancel();
    }
}

impl Shared {
    pub(crate) fn new(parts: Parts) -> Self {
        let Parts { provider, lifetime, options, failures, tasks, status } = parts;
        let clock = Arc::new(StopClock::default());
        let marks = clock.clone();
        // The first `stopping` callback: it marks when the stop was requested.
        lifetime.on_stopping(move || {
            marks.at();
            Ok(())
        });
        Self {
            provider,
            lifetime,
            options,
            status,
            tasks,
            failures,
            state: Mutex::new(State::Created),
            clock,
            force: CancellationToken::new(),
            start_settled: CancellationToken::new(),
            shutdown_begun: AtomicBool::new(false),
            shutdown_requested: CancellationToken::new(),
            shutdown_at: std::sync::OnceLock::new(),
            report: std::sync::OnceLock::new(),
            finished: CancellationToken::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ===== start =====

    /// Starts the services on a task of its own, so a caller that stops waiting (drops the
    /// future) does not leave the host half-started: start-up runs to its end, and a later
    /// `stop` stops what started. (Running it in the caller's task instead saved no measurable
    /// time at start, and on a multi-thread runtime made stopping 1,000 background services
    /// ~1.6× slower: their tasks were then spawned from the caller's thread, not a worker.)
    pub(crate) async fn start(self: &Arc<Self>) -> Result<(), HostError> {
        {
            let mut state = self.state();
            if !matches!(*state, State::Created) {
                return Err(HostError::AlreadyStarted);
            }
            *state = State::Starting;
        }
        let task = tokio::spawn(self.clone().start_up().in_current_span().with_current_subscriber());
        match task.await {
            Ok(result) => result,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(HostError::StartCancelled { abandoned: Vec::new(), failures: Vec::new() }),
        }
    }

    async fn start_up(self: Arc<Self>) -> Result<(), HostError> {
        // Dropped unfinished (its task dropped with its runtime, or a panic): a stop must not
        // wait for a start-up that will never settle.
        let unsettled = Unsettled(&self);
        self.register_status_messages();
        tracing::debug!("hosting starting");
        let result = self.start_services().await;
        let result = match result {
            Ok((services, hooked)) => {
                *self.state() = State::Started(services, hooked);
                self.lifetime.notify_started();
                tracing::debug!("hosting started");
                Ok(())
            }
            Err(error) => {
                *self.state() = State::StartFailed;
                tracing::error!(%error, "hosting failed to start");
                Err(error)
            }
        };
        std::mem::forget(unsettled);
        self.start_settled.cancel();
        result
    }

    /// The services and those with lifecycle hooks, started.
    async fn start_services(&self) -> Result<(Vec<Arc<dyn HostedService>>, Vec<usize>), HostError> {
        let services = self.provider.resolve::<Vec<Arc<dyn HostedService>>>().map_err(HostError::Resolve)?;
        // One pass over the services: which have lifecycle hooks (asked once), and their
        // entries on the status board.
        let hooked = self.status.register(&services);
        let all: Vec<usize> = (0..services.len()).collect();
        // A stop request cancels the start token at once; start-up may then take one more
        // shutdown timeout before the services still starting are abandoned.
        let grace = Grace {
            requested: self.lifetime.stopping().clone(),
            clock: self.clock.clone(),
            timeout: self.options.shutdown_timeout,
        };
        let deadline = Deadline::starting(self.options.startup_timeout, self.force.clone(), grace);
        let mut started = Vec::new();
        for phase in START {
            let order = if phase == Phase::Start { &all } else { &hooked };
            if order.is_empty() {
                continue;
            }
            let plan =
                PhasePlan { phase, concurrent: self.options.services_start_concurrently, abort_on_failure: true };
            let mut outcome = run_phase(&services, order, plan, &deadline, &self.status).await;
            if phase == Phase::Start {
                started = std::mem::take(&mut outcome.completed);
            }
            // Cut short by a stop request with every service returned: start-up carries on, and
            // the host then stops.
            if !outcome.is_ok() || (deadline.is_expired() && !deadline.was_cut_short()) {
                let error = self.start_error(outcome, &deadline);
                started.sort_unstable();
                started.reverse();
                let stop = Deadline::new(Some(self.options.shutdown_timeout), self.force.clone());
                // `hooked` is in registration order: the started ones with hooks, in stop order.
                let started_hooked: Vec<usize> =
                    started.iter().copied().filter(|i| hooked.binary_search(i).is_ok()).collect();
                // Boxed: the failure path would otherwise make every start-up's future larger.
                let stopping = Box::pin(self.stop_services(&services, &started, &started_hooked, &stop, false));
                let report = stopping.await.finish();
                if !report.is_success() {
                    tracing::error!(%report, "stopping the services that had started failed");
                }
                return Err(error);
            }
        }
        Ok((services, hooked))
    }

    fn start_error(&self, outcome: PhaseOutcome, deadline: &Deadline) -> HostError {
        let PhaseOutcome { mut failures, timed_out, .. } = outcome;
        if !timed_out.is_empty() && deadline.was_cut_short() {
            return HostError::StartCancelled { abandoned: timed_out, failures: self.failures.take() };
        }
        // Expiry is the cause even when a service then returned an error on seeing its token cancelled.
        if deadline.is_expired() && !deadline.was_cut_short() {
            let timeout = self.options.startup_timeout.unwrap_or(Duration::MAX);
            return HostError::StartupTimeout { timeout, services: timed_out };
        }
        if failures.len() == 1 {
            return HostError::Start(failures.remove(0));
        }
        HostError::StartMany { failures }
    }

    /// Logs the console status lines on the lifetime events, as .NET's console lifetime does.
    fn register_status_messages(&self) {
        if self.options.suppress_status_messages {
            return;
        }
        self.lifetime.on_started(|| {
            tracing::info!("Application started. Press Ctrl+C to shut down.");
            Ok(())
        });
        self.lifetime.on_stopping(|| {
            tracing::info!("Application is shutting down...");
            Ok(())
        });
        self.lifetime.on_stopped(|| {
            tracing::info!("Application stopped.");
            Ok(())
        });
    }

    // ===== stop =====

    /// Begins the shutdown (once) on a task of its own, so it completes whoever waits for it.
    pub(crate) fn begin_stop(self: &Arc<Self>) {
        if self.shutdown_begun.swap(true, Ordering::SeqCst) {
            return;
        }
        self.shutdown_requested.cancel();
        let shared = self.clone();
        let finished = self.finished.clone();
        let shutdown = async move {
            // Fires `finished` even if the shutdown panics or the runtime drops it.
            let _finished = finished.drop_guard();
            shared.shut_down().await;
        };
        tokio::spawn(shutdown.in_current_span().with_current_subscriber());
    }

    /// Begins the shutdown if needed and waits for it: every caller gets the same report.
    pub(crate) async fn stop(self: &Arc<Self>) -> StopReport {
        self.begin_stop();
        self.wait_stopped().await
    }

    /// `stop`, abandoning whatever still runs once `limit` has passed.
    pub(crate) async fn stop_within(self: &Arc<Self>, limit: Duration) -> StopReport {
        tokio::select! {
            report = self.stop() => report,
            () = tokio::time::sleep(limit) => {
                tracing::warn!(?limit, "the caller's bound on the stop passed; abandoning what still runs");
                self.force.cancel();
                self.wait_stopped().await
            }
        }
    }

    /// Waits until the shutdown has finished (without beginning it); its report.
    pub(crate) async fn wait_stopped(&self) -> StopReport {
        self.finished.cancelled().await;
        self.report.get().cloned().unwrap_or_default()
    }

    /// The deadline what is left of the shutdown (disposal) runs under.
    pub(crate) fn remaining(&self) -> Deadline {
        let at = self
            .shutdown_at
            .get()
            .copied()
            .unwrap_or_else(|| Instant::now().checked_add(self.options.shutdown_timeout));
        Deadline::until(at, self.force.clone())
    }

    async fn shut_down(self: Arc<Self>) {
        let deadline = Deadline::new(Some(self.options.shutdown_timeout), self.force.clone());
        let _ = self.shutdown_at.set(deadline.at());
        // A stop during start-up asks start-up to unwind (the start token fires), then stops
        // what started.
        let (services, hooked) = loop {
            {
                let mut state = self.state();
                match std::mem::replace(&mut *state, State::Stopping) {
                    State::Starting => *state = State::Starting,
                    State::Started(services, hooked) => break (services, hooked),
                    _ => break (Vec::new(), Vec::new()),
                }
            }
            self.lifetime.stop_application();
            self.start_settled.cancelled().await;
        };
        tracing::debug!("hosting stopping");
        let reverse: Vec<usize> = (0..services.len()).rev().collect();
        // Which services have hooks was asked once, at start.
        let hooked: Vec<usize> = hooked.into_iter().rev().collect();
        let mut report = self.stop_services(&services, &reverse, &hooked, &deadline, true).await;
        // tokio-util's recipe for everything spawned on the host's tracker: cancel, close, wait.
        self.tasks.cancel();
        self.tasks.close();
        if deadline.bound(self.tasks.wait()).await.is_none() {
            for name in self.tasks.running() {
                report.add_timed_out(name);
            }
        }
        if !report.timed_out.is_empty() {
            let timeout = self.options.shutdown_timeout;
            tracing::warn!(?timeout, abandoned = ?report.timed_out, "shutdown timeout expired; services abandoned");
        }
        report.failures.splice(0..0, self.failures.take());
        let report = report.finish();
        *self.state() = State::Stopped;
        let _ = self.report.set(report.clone());
        self.lifetime.notify_stopped();
        tracing::debug!(%report, "hosting stopped");
    }

    /// The stop phases in `order` (`hooked`: those in `order` with lifecycle hooks, in the same
    /// order); with `fire_stopping`, the `stopping` event fires (and its callbacks finish)
    /// between the services' `stopping` and `stop`.
    async fn stop_services(
        &self,
        services: &[Arc<dyn HostedService>],
        order: &[usize],
        hooked: &[usize],
        deadline: &Deadline,
        fire_stopping: bool,
    ) -> ReportBuilder {
        let mut report = ReportBuilder::default();
        for phase in STOP {
            if phase == Phase::Stop && fire_stopping {
                self.lifetime.stop_application();
                // Whichever thread fired the event, its callbacks finish before services stop.
                if deadline.bound(self.lifetime.stopping_callbacks_done()).await.is_none() {
                    tracing::warn!("`stopping` callbacks still running at the shutdown timeout");
                }
            }
            let order = if phase == Phase::Stop { order } else { hooked };
            if order.is_empty() {
                continue;
            }
            let plan =
                PhasePlan { phase, concurrent: self.options.services_stop_concurrently, abort_on_failure: false };
            let outcome = run_phase(services, order, plan, deadline, &self.status).await;
            report.failures.extend(outcome.failures);
            for service in outcome.timed_out {
                report.add_timed_out(service);
            }
        }
        report
    }
}
