//! `Host`: ordered start, reverse stop, lifetime events, signals, disposal.

use std::convert::Infallible;
use std::future::{Future, pending};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use di_core::ServiceProvider;
use tokio_util::sync::CancellationToken;

use crate::background::BackgroundFailures;
use crate::builder::HostBuilder;
use crate::error::{HostError, Phase, StopReport};
use crate::hosted_service::HostedService;
use crate::lifetime::ApplicationLifetime;
use crate::options::HostOptions;
use crate::phase::{PhaseOutcome, PhasePlan, run_phase};
use crate::shutdown::{Deadline, Signals};

/// Runs hosted services: starts them in registration order, waits for a signal or
/// [`ApplicationLifetime::stop_application`], stops them in reverse order within the shutdown
/// timeout, and disposes the container.
///
/// Hosted services are what the container returns for
/// `resolve::<Vec<Arc<dyn HostedService>>>()`: register them with
/// [`HostingServiceCollectionExt`](crate::HostingServiceCollectionExt).
///
/// # Examples
///
/// ```
/// use di_hosting::{BackgroundService, CancellationToken, Host, HostingServiceCollectionExt};
///
/// struct Worker;
/// #[async_trait::async_trait]
/// impl BackgroundService for Worker {
///     async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
///         stopping.cancelled().await;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let host = Host::builder()
///     .configure_services(|s| { s.add_background_service_with(|_| Ok(Worker)); })
///     .build()?;
/// // `run()` waits for Ctrl-C; `run_until` stops when the future completes.
/// let report = host.run_until(tokio::time::sleep(std::time::Duration::from_secs(1))).await?;
/// assert_eq!(report.exit_code(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Host {
    provider: Arc<ServiceProvider>,
    lifetime: Arc<ApplicationLifetime>,
    options: HostOptions,
    failures: Arc<BackgroundFailures>,
    state: Mutex<State>,
}

enum State {
    Created,
    Starting,
    Started(Vec<Arc<dyn HostedService>>),
    Stopped,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Created => f.write_str("Created"),
            Self::Starting => f.write_str("Starting"),
            Self::Started(services) => {
                f.debug_tuple("Started").field(&services.iter().map(|s| s.name()).collect::<Vec<_>>()).finish()
            }
            Self::Stopped => f.write_str("Stopped"),
        }
    }
}

const START: [Phase; 3] = [Phase::Starting, Phase::Start, Phase::Started];
const STOP: [Phase; 3] = [Phase::Stopping, Phase::Stop, Phase::Stopped];

// ===== impl Host =====

impl Host {
    pub(crate) fn new(
        provider: Arc<ServiceProvider>,
        lifetime: Arc<ApplicationLifetime>,
        options: HostOptions,
        failures: Arc<BackgroundFailures>,
    ) -> Self {
        Self { provider, lifetime, options, failures, state: Mutex::new(State::Created) }
    }

    /// A [`HostBuilder`].
    ///
    /// # Examples
    ///
    /// ```
    /// let host = di_hosting::Host::builder().build()?;
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    pub fn builder() -> HostBuilder {
        HostBuilder::new()
    }

    /// The host's container.
    ///
    /// # Examples
    ///
    /// ```
    /// let host = di_hosting::Host::builder().build()?;
    /// assert!(host.provider().is_root());
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    pub fn provider(&self) -> &Arc<ServiceProvider> {
        &self.provider
    }

    /// The application's lifetime events (also resolvable as `Arc<ApplicationLifetime>`).
    ///
    /// # Examples
    ///
    /// ```
    /// let host = di_hosting::Host::builder().build()?;
    /// assert!(!host.lifetime().started().is_cancelled());
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    pub fn lifetime(&self) -> &Arc<ApplicationLifetime> {
        &self.lifetime
    }

    /// The options the host was built with.
    ///
    /// # Examples
    ///
    /// ```
    /// let host = di_hosting::Host::builder().build()?;
    /// assert_eq!(host.options().shutdown_timeout, std::time::Duration::from_secs(5));
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    pub fn options(&self) -> &HostOptions {
        &self.options
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts every hosted service: phase `starting` for all, then `start`, then `started`
    /// (serially in registration order, or concurrently), then fires
    /// [`ApplicationLifetime::started`]. Returns once they have all started; background services
    /// keep running on their own tasks.
    ///
    /// # Errors
    ///
    /// A failing service aborts start-up: the services whose `start` had completed are stopped
    /// again, `started` never fires, and the original failure is returned
    /// ([`HostError::Start`], or [`HostError::StartMany`] when several failed concurrently).
    /// Also [`HostError::StartupTimeout`], [`HostError::StartCancelled`] (the application was
    /// asked to stop while starting), [`HostError::Resolve`] and [`HostError::AlreadyStarted`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = di_hosting::Host::builder().build()?;
    /// host.start().await?;
    /// assert!(host.lifetime().started().is_cancelled());
    /// assert!(host.stop().await.is_success());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(&self) -> Result<(), HostError> {
        {
            let mut state = self.state();
            if !matches!(*state, State::Created) {
                return Err(HostError::AlreadyStarted);
            }
            *state = State::Starting;
        }
        self.register_status_messages();
        tracing::debug!("hosting starting");
        match self.start_services().await {
            Ok(services) => {
                *self.state() = State::Started(services);
                self.lifetime.notify_started();
                tracing::debug!("hosting started");
                Ok(())
            }
            Err(error) => {
                *self.state() = State::Stopped;
                tracing::error!(%error, "hosting failed to start");
                Err(error)
            }
        }
    }

    async fn start_services(&self) -> Result<Vec<Arc<dyn HostedService>>, HostError> {
        let services = self.provider.resolve::<Vec<Arc<dyn HostedService>>>().map_err(HostError::Resolve)?;
        let all: Vec<usize> = (0..services.len()).collect();
        // Stopping the application while starting cancels the start token at once.
        let deadline = Deadline::new(self.options.startup_timeout, self.lifetime.stopping().clone());
        let mut started = Vec::new();
        for phase in START {
            let plan =
                PhasePlan { phase, concurrent: self.options.services_start_concurrently, abort_on_failure: true };
            let outcome = run_phase(&services, &all, plan, &deadline).await;
            if phase == Phase::Start {
                started.clone_from(&outcome.completed);
            }
            if !outcome.is_ok() || deadline.is_expired() {
                let error = self.start_error(outcome, &deadline);
                started.sort_unstable();
                started.reverse();
                let report = self.stop_services(&services, &started, CancellationToken::new(), false).await;
                if !report.is_success() {
                    tracing::error!(%report, "stopping the services that had started failed");
                }
                return Err(error);
            }
        }
        Ok(services)
    }

    fn start_error(&self, outcome: PhaseOutcome, deadline: &Deadline) -> HostError {
        let PhaseOutcome { mut failures, timed_out, .. } = outcome;
        // Expiry is the cause even when a service then returned an error on seeing its token cancelled.
        if deadline.is_expired() {
            if deadline.was_forced() {
                return HostError::StartCancelled;
            }
            let timeout = self.options.startup_timeout.unwrap_or(Duration::MAX);
            return HostError::StartupTimeout { timeout, services: timed_out };
        }
        if failures.len() == 1 {
            return HostError::Start(failures.remove(0));
        }
        HostError::StartMany { failures }
    }

    /// Stops every hosted service: phase `stopping`, then fires
    /// [`ApplicationLifetime::stopping`], then `stop`, then `stopped`, in reverse registration
    /// order (or concurrently); then fires [`ApplicationLifetime::stopped`].
    ///
    /// Every service is stopped even when some fail; all failures are collected. When the
    /// shutdown timeout expires the stop token is cancelled, services still running are
    /// abandoned and named in [`StopReport::timed_out`], and `stop` returns. Background failures
    /// that stopped the host are reported too. On a host that never started, only the lifetime
    /// events fire; a second `stop` does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = di_hosting::Host::builder().build()?;
    /// let report = host.stop().await; // stop before start: allowed
    /// assert!(report.is_success());
    /// assert!(host.lifetime().stopped().is_cancelled());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stop(&self) -> StopReport {
        self.stop_with(CancellationToken::new()).await
    }

    /// `stop`, abandoning whatever is still running as soon as `force` fires.
    async fn stop_with(&self, force: CancellationToken) -> StopReport {
        let previous = std::mem::replace(&mut *self.state(), State::Stopped);
        let mut report = match previous {
            State::Stopped => return StopReport::default(),
            State::Created | State::Starting => {
                self.lifetime.stop_application();
                StopReport::default()
            }
            State::Started(services) => {
                tracing::debug!("hosting stopping");
                let reverse: Vec<usize> = (0..services.len()).rev().collect();
                self.stop_services(&services, &reverse, force, true).await
            }
        };
        report.failures.splice(0..0, self.failures.take());
        self.lifetime.notify_stopped();
        tracing::debug!(%report, "hosting stopped");
        report
    }

    async fn stop_services(
        &self,
        services: &[Arc<dyn HostedService>],
        order: &[usize],
        force: CancellationToken,
        fire_stopping: bool,
    ) -> StopReport {
        let deadline = Deadline::new(Some(self.options.shutdown_timeout), force);
        let mut report = StopReport::default();
        for phase in STOP {
            if phase == Phase::Stop && fire_stopping {
                self.lifetime.stop_application();
            }
            let plan =
                PhasePlan { phase, concurrent: self.options.services_stop_concurrently, abort_on_failure: false };
            let outcome = run_phase(services, order, plan, &deadline).await;
            report.failures.extend(outcome.failures);
            for service in outcome.timed_out {
                report.add_timed_out(service);
            }
        }
        if !report.timed_out.is_empty() {
            let timeout = self.options.shutdown_timeout;
            tracing::warn!(?timeout, abandoned = ?report.timed_out, "shutdown timeout expired; services abandoned");
        }
        report
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

    /// Disposes the container: every singleton's disposal hook runs, in reverse creation order.
    /// `run` and `run_until` call it; call it yourself after `start` / `stop`.
    ///
    /// # Errors
    ///
    /// The [`DisposeError`](di_core::DisposeError) listing the hooks that failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = di_hosting::Host::builder().build()?;
    /// host.dispose().await?;
    /// assert!(host.provider().is_disposed());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn dispose(&self) -> Result<(), di_core::DisposeError> {
        self.provider.dispose().await
    }

    async fn finish(&self, mut report: StopReport) -> StopReport {
        if let Err(error) = self.dispose().await {
            tracing::error!(%error, "disposing the host's services failed");
            report.dispose = Some(error);
        }
        report
    }

    async fn fail_start(&self, error: HostError) -> Result<StopReport, HostError> {
        self.lifetime.notify_stopped();
        let _ = self.finish(StopReport::default()).await;
        Err(error)
    }

    /// Starts the host, waits until `until` completes or the application is asked to stop,
    /// stops and disposes. For embedding the host in a larger program, and for tests: no
    /// signal is listened to.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start); the container is disposed before returning.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = di_hosting::Host::builder().build()?;
    /// let lifetime = host.lifetime().clone();
    /// let report = host.run_until(async {}).await?;
    /// assert!(report.is_success());
    /// assert!(lifetime.stopped().is_cancelled());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_until<F: Future>(self, until: F) -> Result<StopReport, HostError> {
        if let Err(error) = self.start().await {
            return self.fail_start(error).await;
        }
        tokio::select! {
            _ = until => {}
            () = self.lifetime.stopping().cancelled() => {}
        }
        let report = self.stop().await;
        Ok(self.finish(report).await)
    }

    /// Starts the host, runs until SIGINT / SIGTERM (Ctrl-C off Unix; feature `signal`) or
    /// [`ApplicationLifetime::stop_application`], then stops and disposes. A second signal during
    /// shutdown stops waiting at once: services still stopping are abandoned and reported.
    ///
    /// The returned [`StopReport`] converts to the process exit code: return it from `main`.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start); the container is disposed before returning.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// #[tokio::main]
    /// async fn main() -> Result<di_hosting::StopReport, di_hosting::HostError> {
    ///     di_hosting::Host::builder().build()?.run().await
    /// }
    /// ```
    pub async fn run(self) -> Result<StopReport, HostError> {
        let mut signals = Signals::listen();
        let started = {
            // A signal during start-up asks the application to stop, which cancels the start.
            let watch = async {
                let signal = signals.recv().await;
                tracing::info!(signal, "shutdown signal received while starting");
                self.lifetime.stop_application();
                pending::<Infallible>().await
            };
            tokio::select! {
                started = self.start() => started,
                never = watch => match never {},
            }
        };
        if let Err(error) = started {
            return self.fail_start(error).await;
        }
        tokio::select! {
            () = self.lifetime.stopping().cancelled() => {}
            signal = signals.recv() => tracing::info!(signal, "shutdown signal received"),
        }
        let force = CancellationToken::new();
        let watch = async {
            let signal = signals.recv().await;
            tracing::warn!(signal, "second signal received; abandoning services still stopping");
            force.cancel();
            pending::<Infallible>().await
        };
        let report = tokio::select! {
            report = self.stop_with(force.clone()) => report,
            never = watch => match never {},
        };
        Ok(self.finish(report).await)
    }
}
