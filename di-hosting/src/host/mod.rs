//! `Host`: ordered start, reverse stop, lifetime events, signals, disposal within the shutdown
//! timeout; `HostHandle` to stop and observe it from elsewhere.

mod handle;
mod shared;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use di_core::ServiceProvider;

pub use self::handle::HostHandle;
pub(crate) use self::shared::Parts;
use self::shared::Shared;
use crate::builder::HostBuilder;
use crate::error::{HostError, StopReport};
use crate::lifetime::ApplicationLifetime;
use crate::options::HostOptions;
use crate::shutdown::{Deadline, Signals, dispose_within};
use crate::status::HostStatus;

/// Runs hosted services: starts them in registration order, waits for a signal or
/// [`ApplicationLifetime::stop_application`], stops them in reverse order within the shutdown
/// timeout, and disposes the container within what is left of it.
///
/// Hosted services are what the container returns for
/// `resolve::<Vec<Arc<dyn HostedService>>>()`: register them with
/// [`HostingServiceCollectionExt`](crate::HostingServiceCollectionExt). Every background task
/// runs under one root cancellation token and one task tracker per host; disposing or dropping
/// a host cancels them.
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
    shared: Arc<Shared>,
}

// ===== impl Host =====

impl Host {
    pub(crate) fn new(parts: Parts) -> Self {
        Self { shared: Arc::new(Shared::new(parts)) }
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
        &self.shared.provider
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
        &self.shared.lifetime
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
        &self.shared.options
    }

    /// A cheap, cloneable handle that stops and observes this host, also while
    /// [`run`](Self::run) is being awaited.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = di_hosting::Host::builder().build()?;
    /// let handle = host.handle();
    /// let run = tokio::spawn(host.run_until(std::future::pending::<()>()));
    /// let report = handle.stop().await;
    /// assert!(report.is_success());
    /// assert!(run.await??.is_success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn handle(&self) -> HostHandle {
        HostHandle::new(self.shared.clone())
    }

    /// Each hosted service's state (starting, running, stopping, stopped, failed with its error,
    /// restarting), in registration order.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{Host, HostedService, HostingServiceCollectionExt, ServiceState};
    /// # struct Cache;
    /// # #[async_trait::async_trait]
    /// # impl HostedService for Cache {
    /// #     async fn start(&self, _: di_hosting::CancellationToken) -> anyhow::Result<()> { Ok(()) }
    /// #     async fn stop(&self, _: di_hosting::CancellationToken) -> anyhow::Result<()> { Ok(()) }
    /// #     fn name(&self) -> &'static str { "app::Cache" }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = Host::builder().configure_services(|s| { s.add_hosted_service_with(|_| Ok(Cache)); }).build()?;
    /// host.start().await?;
    /// assert_eq!(host.status().service("app::Cache").map(|s| &s.state), Some(&ServiceState::Running));
    /// host.stop().await;
    /// assert_eq!(host.status().service("app::Cache").map(|s| &s.state), Some(&ServiceState::Stopped));
    /// # Ok(())
    /// # }
    /// ```
    pub fn status(&self) -> HostStatus {
        self.shared.status.snapshot()
    }

    /// Starts every hosted service: phase `starting` for all that have lifecycle hooks
    /// ([`HostedLifecycleService`](crate::HostedLifecycleService)), then `start`, then `started`
    /// (serially in registration order, or concurrently), then fires
    /// [`ApplicationLifetime::started`]. Returns once they have all started; background services
    /// keep running on their own tasks.
    ///
    /// Start-up runs on a task of its own: dropping this future does not leave the host
    /// half-started (start-up finishes, and [`stop`](Self::stop) stops what started). The token
    /// each service's start phases receive is cancelled when the application is asked to stop;
    /// start-up still finishes when every service returns, and the host then stops.
    ///
    /// # Errors
    ///
    /// A failing service aborts start-up: the services whose `start` had completed are stopped
    /// again, `started` never fires, and the original failure is returned
    /// ([`HostError::Start`], or [`HostError::StartMany`] when several failed concurrently).
    /// Also [`HostError::StartupTimeout`], [`HostError::StartCancelled`] (the application was
    /// asked to stop while starting and a service did not return within the shutdown timeout),
    /// [`HostError::Resolve`] and [`HostError::AlreadyStarted`].
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
        self.shared.start().await
    }

    /// Stops every hosted service: phase `stopping` (services with lifecycle hooks), then fires
    /// [`ApplicationLifetime::stopping`] and waits for its callbacks, then `stop`, then
    /// `stopped`, in reverse registration order (or concurrently); then cancels the host's
    /// root token and waits for every task on its tracker; then fires
    /// [`ApplicationLifetime::stopped`].
    ///
    /// Background services registered next to each other are stopped as a group: when the
    /// `stop` phase reaches the last of them, the `stopping` tokens of the whole group are
    /// cancelled at once, and the host then waits until every `execute` of the group has
    /// returned (tokio-util's recipe: cancel, then wait for all). Any other hosted service
    /// splits a group: everything registered after it has returned before its `stop` is
    /// called, and its `stop` returns before anything registered before it is cancelled.
    /// (A background service has no lifecycle hooks.)
    ///
    /// There is one shutdown, however many callers: concurrent and later calls wait for it and
    /// get the same report. Called during [`start`](Self::start), it asks start-up to unwind
    /// first, then stops the services that started. Every service is stopped even when some
    /// fail; all failures are collected. When the shutdown timeout expires the stop token is
    /// cancelled, services and tasks still running are abandoned and named in
    /// [`StopReport::timed_out`], and `stop` returns. Background failures that stopped the host
    /// are reported too. On a host that never started, only the lifetime events fire.
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
        self.shared.stop().await
    }

    /// [`stop`](Self::stop), bounded by the caller too: once `limit` has passed, whatever still
    /// runs is abandoned at once (as a second signal does) and named in the report.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let host = di_hosting::Host::builder().shutdown_timeout(Duration::from_secs(30)).build()?;
    /// host.start().await?;
    /// let report = host.stop_within(Duration::from_secs(1)).await;
    /// assert!(report.is_success(), "nothing was left running");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stop_within(&self, limit: Duration) -> StopReport {
        self.shared.stop_within(limit).await
    }

    /// Disposes the container: every singleton's disposal hook runs, in reverse creation order.
    /// First cancels the host's background tasks and waits for them (at most the shutdown
    /// timeout), so none runs against a disposed container. `run` and `run_until` dispose
    /// (within the shutdown timeout); call this yourself after `start` / `stop`.
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
        let tasks = &self.shared.tasks;
        tasks.cancel();
        tasks.close();
        let deadline = Deadline::new(Some(self.shared.options.shutdown_timeout), self.shared.force.clone());
        if deadline.bound(tasks.wait()).await.is_none() {
            tracing::warn!(abandoned = ?tasks.running(), "background tasks still running when the host was disposed");
        }
        self.shared.provider.dispose().await
    }

    /// Disposes within what is left of the shutdown timeout, adding how it ended to `report`.
    async fn finish(&self, report: StopReport) -> StopReport {
        let disposal = dispose_within(&self.shared.provider, &self.shared.remaining()).await;
        if let crate::error::Disposal::Failed(error) = &disposal {
            tracing::error!(%error, "disposing the host's services failed");
        }
        report.with_disposal(disposal)
    }

    async fn fail_start(&self, error: HostError) -> Result<StopReport, HostError> {
        let report = self.stop().await;
        let _ = self.finish(report).await;
        Err(error)
    }

    /// Starts, waits for `until`, a stop request or a stop through a handle, then stops and
    /// disposes.
    async fn run_inner<F: Future>(&self, until: F) -> Result<StopReport, HostError> {
        if let Err(error) = self.start().await {
            return self.fail_start(error).await;
        }
        tokio::select! {
            _ = until => {}
            () = self.shared.lifetime.stopping().cancelled() => {}
            () = self.shared.shutdown_requested.cancelled() => {}
        }
        let report = self.stop().await;
        Ok(self.finish(report).await)
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
        self.run_inner(until).await
    }

    /// Starts the host, runs until SIGINT / SIGTERM (Ctrl-C off Unix; feature `signal`),
    /// [`ApplicationLifetime::stop_application`] or [`HostHandle::stop`], then stops and
    /// disposes within the shutdown timeout. A second signal, at any point until `run` returns
    /// (disposal included), stops waiting at once: what is still running is abandoned and
    /// reported.
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
        let shared = &self.shared;
        // Installed until `run` returns: the first signal stops the host (during start-up, it
        // cancels the start), any later one abandons what still runs, disposal included.
        let watch = async {
            let signal = signals.recv().await;
            tracing::info!(signal, "shutdown signal received");
            shared.begin_stop();
            loop {
                let signal = signals.recv().await;
                tracing::warn!(signal, "second signal received; abandoning services still stopping");
                shared.force.cancel();
            }
        };
        tokio::select! {
            result = self.run_inner(std::future::pending::<()>()) => result,
            never = watch => match never as Infallible {},
        }
    }
}

impl Drop for Host {
    /// Cancels the host's background tasks: a host dropped while running leaves none behind.
    fn drop(&mut self) {
        self.shared.tasks.cancel();
    }
}
