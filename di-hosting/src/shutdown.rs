//! Bounded waiting (the startup and shutdown timeouts) and the OS signals that stop the host.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use di_core::{DisposeFailure, ServiceProvider};

use futures_util::FutureExt as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::Disposal;

/// A point in time after which the host stops waiting for services.
///
/// `token` is what the services receive: it is cancelled when the deadline expires, either
/// because the time is up or because `force` fired (a second signal, or the caller's bound on a
/// stop). A start-up deadline also has a [`Grace`]: its token is a child of the application's
/// `stopping` token (so a service sees a stop request at once) and, from the stop request on,
/// it expires at most one shutdown timeout later.
#[derive(Debug)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    force: CancellationToken,
    grace: Option<Grace>,
    token: CancellationToken,
    expired: CancellationToken,
    /// The task that watches the clock, the grace and `force`, and cancels `expired` and
    /// `token` when the deadline expires: spawned the first time a bounded future has to wait,
    /// aborted when the deadline is dropped. A service that is still running then costs one
    /// waiter on `expired`, not a timer and three waiters of its own.
    watchdog: OnceLock<tokio::task::AbortHandle>,
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some(watchdog) = self.watchdog.get() {
            watchdog.abort();
        }
    }
}

/// How long start-up may still take once the application was asked to stop.
#[derive(Debug, Clone)]
pub(crate) struct Grace {
    /// The application's `stopping` token.
    pub(crate) requested: CancellationToken,
    /// When the stop was requested.
    pub(crate) clock: Arc<StopClock>,
    /// The shutdown timeout.
    pub(crate) timeout: Duration,
}

/// The instant the application was first asked to stop (marked by a `stopping` callback, or by
/// whoever reads it first).
#[derive(Debug, Default)]
pub(crate) struct StopClock(OnceLock<Instant>);

impl StopClock {
    /// The instant of the stop request (now, if nobody marked it yet).
    pub(crate) fn at(&self) -> Instant {
        *self.0.get_or_init(Instant::now)
    }
}

impl Deadline {
    /// `timeout: None` (or one too large to represent, like `Duration::MAX`) never expires on
    /// its own.
    pub(crate) fn new(timeout: Option<Duration>, force: CancellationToken) -> Self {
        Self::until(timeout.and_then(|t| Instant::now().checked_add(t)), force)
    }

    /// A deadline at `at` (`None`: never, unless forced).
    pub(crate) fn until(at: Option<Instant>, force: CancellationToken) -> Self {
        Self {
            at,
            force,
            grace: None,
            token: CancellationToken::new(),
            expired: CancellationToken::new(),
            watchdog: OnceLock::new(),
        }
    }

    /// The start-up deadline: `timeout` (the startup timeout), or one `grace.timeout` after the
    /// stop request, whichever comes first. The services' token fires at the stop request.
    pub(crate) fn starting(timeout: Option<Duration>, force: CancellationToken, grace: Grace) -> Self {
        let mut deadline = Self::new(timeout, force);
        deadline.token = grace.requested.child_token();
        deadline.grace = Some(grace);
        deadline
    }

    /// The instant it expires on its own, if any.
    pub(crate) fn at(&self) -> Option<Instant> {
        self.at
    }

    /// The token handed to the services bounded by this deadline.
    pub(crate) fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Whether the deadline expired or was forced, even if nothing was waiting on it then.
    pub(crate) fn is_expired(&self) -> bool {
        self.expired.is_cancelled() || self.force.is_cancelled()
    }

    /// Whether `force` fired or the stop request's grace ran out (as opposed to the time
    /// running out).
    pub(crate) fn was_cut_short(&self) -> bool {
        self.force.is_cancelled() || self.grace.as_ref().is_some_and(|g| g.requested.is_cancelled())
    }

    /// Completes when the deadline expires, and cancels the token.
    async fn expired(&self) {
        if !self.is_expired() {
            self.watch();
            self.expired.cancelled().await;
        }
        self.expired.cancel();
        self.token.cancel();
    }

    /// Spawns the watchdog, once.
    fn watch(&self) {
        self.watchdog.get_or_init(|| {
            let watch =
                watch(self.at, self.force.clone(), self.grace.clone(), self.expired.clone(), self.token.clone());
            tokio::spawn(watch).abort_handle()
        });
    }

    /// Runs `fut` to completion, or until the deadline expires. At expiry the token is
    /// cancelled and `fut` is polled once more, so a service that honours the token (returns as
    /// soon as it sees it cancelled) still finishes; `None` means it was abandoned.
    pub(crate) async fn bound<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        // `biased`: poll the service first, so one that is already done never counts as abandoned.
        tokio::select! {
            biased;
            out = &mut fut => return Some(out),
            () = self.expired() => {}
        }
        fut.as_mut().now_or_never()
    }
}

/// The watchdog of a [`Deadline`]: waits for the time to be up (`at`), for the stop request's
/// grace to run out, for `force`, or for the deadline to be expired by hand; then cancels
/// `expired` and the services' `token`.
async fn watch(
    at: Option<Instant>,
    force: CancellationToken,
    grace: Option<Grace>,
    expired: CancellationToken,
    token: CancellationToken,
) {
    let time_up = async {
        match at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let grace_up = async {
        let Some(grace) = &grace else { return std::future::pending().await };
        grace.requested.cancelled().await;
        match grace.clock.at().checked_add(grace.timeout) {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = time_up => {}
        () = grace_up => {}
        () = force.cancelled() => {}
        () = expired.cancelled() => {}
    }
    expired.cancel();
    token.cancel();
}

/// Disposes the container within `deadline` (what is left of the shutdown timeout; a forced
/// deadline, after a second signal, ends it at once). At the deadline di-core abandons the hook
/// running and drops the ones not started, naming each: the report lists them.
pub(crate) async fn dispose_within(provider: &ServiceProvider, deadline: &Deadline) -> Disposal {
    let error = match provider.dispose_until(deadline.expired()).await {
        Ok(()) => return Disposal::Done,
        Err(error) => error,
    };
    let unfinished: Vec<&'static str> = error
        .failures()
        .iter()
        .filter_map(|failure| match failure {
            DisposeFailure::Interrupted { service } | DisposeFailure::NotRun { service } => Some(*service),
            _ => None,
        })
        .collect();
    if unfinished.is_empty() {
        return Disposal::Failed(error);
    }
    tracing::warn!(
        unfinished = ?unfinished,
        "disposing the container did not finish within the shutdown timeout; abandoned"
    );
    if unfinished.len() == error.failures().len() {
        Disposal::Unfinished(unfinished)
    } else {
        // Hooks also failed before the deadline: report both.
        Disposal::FailedAndUnfinished(error, unfinished)
    }
}

/// The signals that stop the host: SIGTERM and SIGINT on Unix, Ctrl-C elsewhere. Listening
/// starts when this is created and lasts as long as it lives, so a second signal during
/// shutdown is delivered here instead of killing the process.
#[derive(Debug)]
pub(crate) struct Signals {
    #[cfg(all(feature = "signal", unix))]
    unix: [Option<(tokio::signal::unix::Signal, &'static str)>; 2],
}

impl Signals {
    /// Starts listening. A signal that cannot be listened to is logged and ignored.
    pub(crate) fn listen() -> Self {
        #[cfg(all(feature = "signal", unix))]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let open = |kind: SignalKind, name: &'static str| match signal(kind) {
                Ok(s) => Some((s, name)),
                Err(error) => {
                    tracing::warn!(signal = name, %error, "cannot listen for a shutdown signal");
                    None
                }
            };
            Self { unix: [open(SignalKind::terminate(), "SIGTERM"), open(SignalKind::interrupt(), "SIGINT")] }
        }
        #[cfg(not(all(feature = "signal", unix)))]
        Self {}
    }

    /// Waits for the next signal and returns its name. Never completes when no signal can be
    /// listened to (feature `signal` off).
    pub(crate) async fn recv(&mut self) -> &'static str {
        #[cfg(all(feature = "signal", unix))]
        {
            let [term, int] = &mut self.unix;
            tokio::select! {
                Some(name) = next(term) => name,
                Some(name) = next(int) => name,
                else => std::future::pending().await,
            }
        }
        #[cfg(all(feature = "signal", not(unix)))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            }
        }
        #[cfg(not(feature = "signal"))]
        {
            std::future::pending().await
        }
    }
}

#[cfg(all(feature = "signal", unix))]
async fn next(slot: &mut Option<(tokio::signal::unix::Signal, &'static str)>) -> Option<&'static str> {
    let (signal, name) = slot.as_mut()?;
    signal.recv().await.map(|()| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bound_abandons_at_the_deadline_and_cancels_the_token() {
        let deadline = Deadline::new(Some(Duration::from_secs(2)), CancellationToken::new());
        let started = Instant::now();
        let out = deadline.bound(std::future::pending::<()>()).await;
        assert_eq!(out, None, "a future that never finishes is abandoned");
        assert_eq!(started.elapsed(), Duration::from_secs(2), "abandoned exactly at the deadline");
        assert!(deadline.token().is_cancelled(), "the token fires at the deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn bound_gives_a_future_that_honours_the_token_one_more_poll() {
        let deadline = Deadline::new(Some(Duration::from_secs(1)), CancellationToken::new());
        let token = deadline.token();
        let out = deadline
            .bound(async move {
                token.cancelled().await;
                7
            })
            .await;
        assert_eq!(out, Some(7), "a future that returns on cancellation is not abandoned");
    }

    #[tokio::test(start_paused = true)]
    async fn force_expires_the_deadline_at_once() {
        let force = CancellationToken::new();
        let deadline = Deadline::new(None, force.clone());
        force.cancel();
        let started = Instant::now();
        assert_eq!(deadline.bound(std::future::pending::<()>()).await, None, "forced deadline abandons");
        assert_eq!(started.elapsed(), Duration::ZERO, "no waiting once forced");
        assert!(deadline.was_cut_short(), "expiry is reported as forced");
    }
}

#[cfg(test)]
mod grace_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_start_deadline_cancels_its_token_at_the_stop_request_and_expires_one_grace_later() {
        let requested = CancellationToken::new();
        let grace = Grace { requested: requested.clone(), clock: Arc::default(), timeout: Duration::from_secs(3) };
        let deadline = Deadline::starting(None, CancellationToken::new(), grace);
        let token = deadline.token();
        let began = Instant::now();
        let stop = requested.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop.cancel();
        });
        assert_eq!(deadline.bound(token.cancelled()).await, Some(()), "the token fires at the stop request");
        assert_eq!(began.elapsed(), Duration::from_secs(1));
        assert!(!deadline.is_expired(), "the request alone does not expire the deadline");
        assert_eq!(deadline.bound(std::future::pending::<()>()).await, None, "abandoned one grace later");
        assert_eq!(began.elapsed(), Duration::from_secs(4), "3 s after the request");
        assert!(deadline.was_cut_short());
    }
}
