//! Bounded waiting (the startup and shutdown timeouts) and the OS signals that stop the host.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A point in time after which the host stops waiting for services.
///
/// `token` is what the services receive: it is cancelled when the deadline expires, either
/// because the time is up or because `force` fired (a second signal during shutdown, or the
/// application stopping during start-up).
#[derive(Debug)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    force: CancellationToken,
    token: CancellationToken,
}

impl Deadline {
    /// `timeout: None` (or one too large to represent, like `Duration::MAX`) never expires on
    /// its own.
    pub(crate) fn new(timeout: Option<Duration>, force: CancellationToken) -> Self {
        let at = timeout.and_then(|t| Instant::now().checked_add(t));
        Self { at, force, token: CancellationToken::new() }
    }

    /// The token handed to the services bounded by this deadline.
    pub(crate) fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Whether the deadline expired or was forced, even if nothing was waiting on it then.
    pub(crate) fn is_expired(&self) -> bool {
        self.token.is_cancelled() || self.force.is_cancelled()
    }

    /// Whether `force` fired (as opposed to the time running out).
    pub(crate) fn was_forced(&self) -> bool {
        self.force.is_cancelled()
    }

    /// Completes when the deadline expires, and cancels the token.
    async fn expired(&self) {
        if !self.token.is_cancelled() {
            let time_up = async {
                match self.at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = time_up => {}
                () = self.force.cancelled() => {}
                () = self.token.cancelled() => {}
            }
            self.token.cancel();
        }
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
        assert!(deadline.was_forced(), "expiry is reported as forced");
    }
}
