//! `HostHandle`: stop and observe a host from elsewhere while it runs.

use std::sync::Arc;
use std::time::Duration;

use super::shared::Shared;
use crate::error::StopReport;
use crate::lifetime::ApplicationLifetime;
use crate::status::HostStatus;

/// A cheap, cloneable handle to a [`Host`](crate::Host), from [`Host::handle`](crate::Host::handle):
/// stop it and observe it (its status, its end) while [`run`](crate::Host::run) is being
/// awaited elsewhere.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let host = di_hosting::Host::builder().build()?;
/// let handle = host.handle();
/// let watcher = handle.clone();
/// let run = tokio::spawn(host.run_until(std::future::pending::<()>()));
/// tokio::spawn(async move {
///     tokio::time::sleep(Duration::from_secs(1)).await;
///     handle.stop().await;
/// });
/// let report = watcher.stopped().await;
/// assert!(report.is_success());
/// assert!(run.await??.is_success());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HostHandle {
    shared: Arc<Shared>,
}

impl HostHandle {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Stops the host, as [`Host::stop`](crate::Host::stop): one shutdown for every caller,
    /// who all get its report. A `run` being awaited then disposes and returns.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = di_hosting::Host::builder().build()?;
    /// let handle = host.handle();
    /// host.start().await?;
    /// let (a, b) = tokio::join!(handle.stop(), host.stop());
    /// assert!(a.is_success() && b.is_success());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stop(&self) -> StopReport {
        self.shared.stop().await
    }

    /// Stops the host, abandoning whatever still runs once `limit` has passed, as
    /// [`Host::stop_within`](crate::Host::stop_within).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = di_hosting::Host::builder().build()?;
    /// let report = host.handle().stop_within(std::time::Duration::from_secs(1)).await;
    /// assert!(report.is_success());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stop_within(&self, limit: Duration) -> StopReport {
        self.shared.stop_within(limit).await
    }

    /// Waits until the host has stopped (its services stopped and
    /// [`ApplicationLifetime::stopped`] fired), without asking it to; the shutdown's report
    /// (disposal, which `run` does next, is not in it).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = di_hosting::Host::builder().build()?;
    /// let handle = host.handle();
    /// host.lifetime().stop_application();
    /// let run = tokio::spawn(host.run_until(std::future::pending::<()>()));
    /// assert!(handle.stopped().await.is_success());
    /// run.await??;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stopped(&self) -> StopReport {
        self.shared.wait_stopped().await
    }

    /// Each hosted service's state, as [`Host::status`](crate::Host::status).
    ///
    /// # Examples
    ///
    /// ```
    /// let host = di_hosting::Host::builder().build()?;
    /// assert!(host.handle().status().services.is_empty());
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    pub fn status(&self) -> HostStatus {
        self.shared.status.snapshot()
    }

    /// The host's lifetime events.
    ///
    /// # Examples
    ///
    /// ```
    /// let host = di_hosting::Host::builder().build()?;
    /// assert!(!host.handle().lifetime().stopping().is_cancelled());
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    pub fn lifetime(&self) -> &Arc<ApplicationLifetime> {
        &self.shared.lifetime
    }
}
