//! The traits the host runs: `HostedService` (start/stop), its opt-in lifecycle hooks
//! (`HostedLifecycleService`) and `BackgroundService` (one long-running `execute`).

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

/// A service the host starts when the application starts and stops when it stops.
///
/// Hosted services are singletons. `start` should return promptly: long-running work belongs in a
/// [`BackgroundService`] or a task spawned from `start`. The token passed to `start` is cancelled
/// if start-up is aborted (startup timeout, or the application stopping); the token passed to
/// `stop` is cancelled when the shutdown timeout expires, after which the host stops waiting.
///
/// A service that also needs to run code before or after every service's `start` or `stop`
/// implements [`HostedLifecycleService`] and returns `Some(self)` from
/// [`lifecycle`](Self::lifecycle) (as .NET's `IHostedLifecycleService`): the host asks once per
/// service and runs those phases only for the services that opted in.
///
/// # Examples
///
/// ```
/// use di_hosting::{CancellationToken, HostedService};
///
/// struct Announcer;
///
/// #[async_trait::async_trait]
/// impl HostedService for Announcer {
///     async fn start(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
///         tracing::info!("hello");
///         Ok(())
///     }
///     async fn stop(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
///         tracing::info!("goodbye");
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait HostedService: Send + Sync + 'static {
    /// Starts the service.
    async fn start(&self, cancel: CancellationToken) -> anyhow::Result<()>;

    /// Stops the service; `cancel` fires when the shutdown timeout expires.
    async fn stop(&self, cancel: CancellationToken) -> anyhow::Result<()>;

    /// The name used in logs, spans and reports. Defaults to the type name.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// This service's lifecycle hooks, if it has any: override it with `Some(self)` when the
    /// type implements [`HostedLifecycleService`]. A wrapper around another hosted service
    /// forwards it. The default, `None`, means the host never calls `starting`, `started`,
    /// `stopping` or `stopped` for this service.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{CancellationToken, HostedLifecycleService, HostedService};
    ///
    /// struct Plain;
    /// #[async_trait::async_trait]
    /// impl HostedService for Plain {
    ///     async fn start(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
    ///     async fn stop(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
    /// }
    ///
    /// struct Hooked;
    /// #[async_trait::async_trait]
    /// impl HostedService for Hooked {
    ///     async fn start(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
    ///     async fn stop(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
    ///     fn lifecycle(&self) -> Option<&dyn HostedLifecycleService> { Some(self) }
    /// }
    /// impl HostedLifecycleService for Hooked {}
    ///
    /// assert!(Plain.lifecycle().is_none());
    /// assert!(Hooked.lifecycle().is_some());
    /// ```
    fn lifecycle(&self) -> Option<&dyn HostedLifecycleService> {
        None
    }
}

/// The optional lifecycle hooks of a [`HostedService`], as .NET's `IHostedLifecycleService`:
/// start runs `starting` -> `start` -> `started` and stop runs `stopping` -> `stop` ->
/// `stopped`, each phase over every service (in start or stop order) before the next begins,
/// each bounded by the same timeouts and tokens as `start` and `stop`. Every hook defaults to
/// doing nothing: implement the ones you need.
///
/// The host finds the hooks through [`HostedService::lifecycle`], which the implementor
/// overrides with `Some(self)`: a phase runs only for the services that return `Some`, and
/// when none does, the phase is skipped altogether.
///
/// # Examples
///
/// ```
/// use di_hosting::{CancellationToken, HostedLifecycleService, HostedService};
///
/// struct Cache;
///
/// #[async_trait::async_trait]
/// impl HostedService for Cache {
///     async fn start(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
///     async fn stop(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
///     fn lifecycle(&self) -> Option<&dyn HostedLifecycleService> {
///         Some(self)
///     }
/// }
///
/// #[async_trait::async_trait]
/// impl HostedLifecycleService for Cache {
///     async fn started(&self, _: CancellationToken) -> anyhow::Result<()> {
///         tracing::info!("every service has started; the cache may warm up now");
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait HostedLifecycleService: HostedService {
    /// Runs before `start` (for every service with hooks, in start order).
    async fn starting(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }

    /// Runs after every service's `start` completed.
    async fn started(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }

    /// Runs before `stop` (for every service with hooks, in stop order).
    async fn stopping(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }

    /// Runs after every service's `stop` completed.
    async fn stopped(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A long-running service: the host runs [`execute`](Self::execute) as its own task, cancels
/// `stopping` when the application stops, and waits for it within the shutdown timeout.
///
/// When the host stops, background services registered next to each other have their
/// `stopping` tokens cancelled together (once every service registered after them has
/// stopped), and the host waits until all of them have returned: do not rely on a neighbouring
/// background service still running after your token fires. A hosted service registered
/// between two background services keeps them apart.
///
/// Returning `Ok(())` ends the service without stopping the host. Returning `Err` or panicking is
/// contained and handled by [`HostOptions`](crate::HostOptions)' background-service failure policy.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_hosting::{BackgroundService, CancellationToken};
///
/// struct Heartbeat;
///
/// #[async_trait::async_trait]
/// impl BackgroundService for Heartbeat {
///     async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
///         while !stopping.is_cancelled() {
///             tracing::info!("beat");
///             tokio::select! {
///                 _ = stopping.cancelled() => break,
///                 _ = tokio::time::sleep(Duration::from_secs(1)) => {}
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait BackgroundService: Send + Sync + 'static {
    /// The service's work; return when `stopping` is cancelled.
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()>;

    /// The name used in logs, spans and reports. Defaults to the type name.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}
