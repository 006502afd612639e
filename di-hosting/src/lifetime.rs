//! `ApplicationLifetime`: started / stopping / stopped notifications, and stop on request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use di_core::error::panic_message;
use tokio_util::sync::CancellationToken;

/// The application's lifetime events, resolvable from the host's container as
/// `Arc<ApplicationLifetime>`.
///
/// Each event is a [`CancellationToken`] that is cancelled when the event happens: await
/// `started().cancelled()` to run after start-up, or check `stopping().is_cancelled()` in a loop.
/// Callbacks registered with [`on_started`](Self::on_started), [`on_stopping`](Self::on_stopping)
/// and [`on_stopped`](Self::on_stopped) run once when the event fires; one that fails or panics
/// is logged at error level and never keeps the others from running.
///
/// Clones share the same events.
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
    started: Event,
    stopping: Event,
    stopped: Event,
}

type Callback = Box<dyn FnOnce() -> anyhow::Result<()> + Send>;

/// One event: a token plus the callbacks still waiting for it, and a second token cancelled
/// once the callbacks taken when it fired have all run.
#[derive(Clone, Default)]
struct Event {
    token: CancellationToken,
    callbacks: Arc<Mutex<Vec<Callback>>>,
    done: CancellationToken,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event").field("fired", &self.token.is_cancelled()).finish_non_exhaustive()
    }
}

impl Event {
    /// Fires once: cancels the token, then runs the callbacks outside the lock, so a callback
    /// may register another one (which then runs at once) without deadlocking.
    fn fire(&self, event: &'static str) {
        let callbacks = {
            let mut guard = self.callbacks.lock().unwrap_or_else(PoisonError::into_inner);
            if self.token.is_cancelled() {
                return;
            }
            self.token.cancel();
            std::mem::take(&mut *guard)
        };
        for callback in callbacks {
            run_callback(event, callback);
        }
        self.done.cancel();
    }

    fn register(&self, event: &'static str, callback: Callback) {
        let mut guard = self.callbacks.lock().unwrap_or_else(PoisonError::into_inner);
        if self.token.is_cancelled() {
            drop(guard);
            run_callback(event, callback);
        } else {
            guard.push(callback);
        }
    }
}

fn run_callback(event: &'static str, callback: Callback) {
    match catch_unwind(AssertUnwindSafe(callback)) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::error!(event, error = %format!("{error:#}"), "an application lifetime callback failed");
        }
        Err(payload) => {
            let message = panic_message(&*payload);
            tracing::error!(event, message, "an application lifetime callback panicked");
        }
    }
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
        &self.started.token
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
        &self.stopping.token
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
        &self.stopped.token
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
        self.stopping.fire("stopping");
    }

    /// Runs `callback` once every hosted service has started (at once if that already happened).
    ///
    /// # Examples
    ///
    /// ```
    /// let lifetime = di_hosting::ApplicationLifetime::new();
    /// lifetime.on_started(|| { tracing::info!("ready"); Ok(()) });
    /// ```
    pub fn on_started(&self, callback: impl FnOnce() -> anyhow::Result<()> + Send + 'static) {
        self.started.register("started", Box::new(callback));
    }

    /// Runs `callback` when a graceful shutdown begins (at once if it already began).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let lifetime = di_hosting::ApplicationLifetime::new();
    /// let seen = Arc::new(AtomicBool::new(false));
    /// let flag = seen.clone();
    /// lifetime.on_stopping(|| anyhow::bail!("logged, never propagated"));
    /// lifetime.on_stopping(move || { flag.store(true, Ordering::SeqCst); Ok(()) });
    /// lifetime.stop_application();
    /// assert!(seen.load(Ordering::SeqCst), "the second callback runs although the first failed");
    /// ```
    pub fn on_stopping(&self, callback: impl FnOnce() -> anyhow::Result<()> + Send + 'static) {
        self.stopping.register("stopping", Box::new(callback));
    }

    /// Runs `callback` once every hosted service has stopped (at once if that already happened).
    ///
    /// # Examples
    ///
    /// ```
    /// let lifetime = di_hosting::ApplicationLifetime::new();
    /// lifetime.on_stopped(|| { tracing::info!("bye"); Ok(()) });
    /// ```
    pub fn on_stopped(&self, callback: impl FnOnce() -> anyhow::Result<()> + Send + 'static) {
        self.stopped.register("stopped", Box::new(callback));
    }

    /// Fires `started`. Called by the host.
    pub(crate) fn notify_started(&self) {
        self.started.fire("started");
    }

    /// Completes once the `stopping` callbacks have run (the event fired and every callback
    /// registered before it returned), whichever thread fired it.
    pub(crate) async fn stopping_callbacks_done(&self) {
        self.stopping.done.cancelled().await;
    }

    /// Fires `stopped`. Called by the host.
    pub(crate) fn notify_stopped(&self) {
        self.stopped.fire("stopped");
    }
}
