//! `ApplicationLifetime`: started / stopping / stopped notifications, and stop on request.

use tokio_util::sync::CancellationToken;

/// The application's lifetime events, resolvable from the host's container as
/// `Arc<ApplicationLifetime>`.
///
/// Each event is a [`CancellationToken`] that is cancelled when the event happens: await
/// `started().cancelled()` to run after start-up, or check `stopping().is_cancelled()` in a loop.
/// [`stop_application`](Self::stop_application) asks the host to shut down gracefully, from
/// anywhere (a hosted service, a request handler, a test).
///
/// # Examples
///
/// ```
/// use di_hosting::ApplicationLifetime;
///
/// let lifetime = ApplicationLifetime::new();
/// assert!(!lifetime.stopping().is_cancelled());
/// lifetime.stop_application();
/// assert!(lifetime.stopping().is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ApplicationLifetime {
    started: CancellationToken,
    stopping: CancellationToken,
    stopped: CancellationToken,
}

impl ApplicationLifetime {
    /// A lifetime where nothing has happened yet. The host creates and registers one; create
    /// your own only to test code that consumes it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lifetime = di_hosting::ApplicationLifetime::new();
    /// assert!(!lifetime.started().is_cancelled());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancelled once every hosted service has started.
    ///
    /// # Examples
    ///
    /// ```
    /// # let lifetime = di_hosting::ApplicationLifetime::new();
    /// # let _ = async move {
    /// lifetime.started().cancelled().await;
    /// # };
    /// ```
    pub fn started(&self) -> &CancellationToken {
        &self.started
    }

    /// Cancelled when a graceful shutdown begins (a signal, `stop_application`, or a failure
    /// that stops the host).
    ///
    /// # Examples
    ///
    /// ```
    /// # let lifetime = di_hosting::ApplicationLifetime::new();
    /// assert!(!lifetime.stopping().is_cancelled());
    /// ```
    pub fn stopping(&self) -> &CancellationToken {
        &self.stopping
    }

    /// Cancelled once every hosted service has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// # let lifetime = di_hosting::ApplicationLifetime::new();
    /// assert!(!lifetime.stopped().is_cancelled());
    /// ```
    pub fn stopped(&self) -> &CancellationToken {
        &self.stopped
    }

    /// Requests a graceful shutdown. Idempotent; returns at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let lifetime = di_hosting::ApplicationLifetime::new();
    /// lifetime.stop_application();
    /// lifetime.stop_application(); // a second request changes nothing
    /// assert!(lifetime.stopping().is_cancelled());
    /// ```
    pub fn stop_application(&self) {
        self.stopping.cancel();
    }

    /// Fires `started`. Called by the host.
    pub(crate) fn notify_started(&self) {
        self.started.cancel();
    }

    /// Fires `stopped`. Called by the host.
    pub(crate) fn notify_stopped(&self) {
        self.stopped.cancel();
    }
}
