//! The traits the host runs: `HostedService` (start/stop with lifecycle hooks) and
//! `BackgroundService` (one long-running `execute`).

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

/// A service the host starts when the application starts and stops when it stops.
///
/// Hosted services are singletons. `start` should return promptly: long-running work belongs in a
/// [`BackgroundService`] or a task spawned from `start`. The token passed to `start` is cancelled
/// if start-up is aborted (startup timeout, or the application stopping); the token passed to
/// `stop` is cancelled when the shutdown timeout expires, after which the host stops waiting.
///
/// The lifecycle hooks run around `start` and `stop` for every service, in the same order:
/// `starting` -> `start` -> `started`, and `stopping` -> `stop` -> `stopped`.
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

    /// Runs before `start` (for every service, in start order).
    async fn starting(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }

    /// Runs after every service's `start` completed.
    async fn started(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }

    /// Runs before `stop` (for every service, in stop order).
    async fn stopping(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }

    /// Runs after every service's `stop` completed.
    async fn stopped(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }

    /// The name used in logs, spans and reports. Defaults to the type name.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// A long-running service: the host runs [`execute`](Self::execute) as its own task, cancels
/// `stopping` when the application stops, and waits for it within the shutdown timeout.
///
/// When the host stops, background services registered next to each other have their
/// `stopping` tokens cancelled together (once every service registered after them has
/// stopped), and the host waits for each to return in reverse registration order: do not rely
/// on a neighbouring background service still running after your token fires. A hosted service
/// registered between two background services keeps them apart.
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
