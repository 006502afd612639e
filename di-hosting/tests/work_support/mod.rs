//! Helpers shared by the background-work tests: log capture, a recorder of when things happened
//! on tokio's (paused) clock, and driving hosted services without a host.

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a different subset")]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use di_core::ServiceProvider;
use di_hosting::{CancellationToken, HostedService};
use tokio::time::Instant;

/// Captures formatted log lines for the current thread (tests run on a current-thread runtime).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Records events as seconds since its creation on tokio's clock.
#[derive(Debug, Clone)]
pub struct Timeline {
    origin: Instant,
    events: Arc<Mutex<Vec<(f64, String)>>>,
}

impl Timeline {
    pub fn new() -> Self {
        Self { origin: Instant::now(), events: Arc::default() }
    }

    pub fn record(&self, what: impl Into<String>) {
        let at = self.origin.elapsed().as_secs_f64();
        self.events.lock().unwrap().push((at, what.into()));
    }

    /// Seconds at which `what` was recorded.
    pub fn times_of(&self, what: &str) -> Vec<f64> {
        self.events.lock().unwrap().iter().filter(|(_, w)| w == what).map(|(at, _)| *at).collect()
    }

    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().iter().map(|(_, w)| w.clone()).collect()
    }
}

/// A token cancelled `after` from now on tokio's clock: the shutdown timeout a host would pass.
pub fn timeout_after(after: Duration) -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        fire.cancel();
    });
    token
}

/// Starts every hosted service in registration order, as the host does.
pub async fn start_all(provider: &ServiceProvider) -> Vec<Arc<dyn HostedService>> {
    let services = provider.resolve::<Vec<Arc<dyn HostedService>>>().expect("hosted services resolve");
    for service in &services {
        service.start(CancellationToken::new()).await.expect("hosted service starts");
    }
    services
}

/// Stops every service in reverse order with one shared shutdown timeout; returns each result.
pub async fn stop_all(services: &[Arc<dyn HostedService>], timeout: Duration) -> Vec<anyhow::Result<()>> {
    let token = timeout_after(timeout);
    let mut results = Vec::new();
    for service in services.iter().rev() {
        results.push(service.stop(token.clone()).await);
    }
    results
}
