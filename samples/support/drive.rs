//! Starts and stops hosted services the way the host does, for the background-work samples
//! until they move to `HostBuilder`: start every `dyn HostedService` in registration order, wait
//! for `until` or Ctrl-C, then stop them in reverse with a 5 s shutdown timeout.

use std::future::Future;
use std::time::Duration;

use di_core::ServiceProvider;
use di_hosting::{CancellationToken, HostedService};

/// The shutdown timeout the host uses by default.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the provider's hosted services until `until` completes or Ctrl-C, then stops them.
pub(crate) async fn run_until(provider: &ServiceProvider, until: impl Future<Output = ()>) -> anyhow::Result<()> {
    let services = provider.get_all::<dyn HostedService>()?;
    for service in &services {
        service.start(CancellationToken::new()).await?;
    }
    tokio::select! {
        () = until => tracing::info!("sample finished; stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C; stopping"),
    }
    let timeout = CancellationToken::new();
    let expire = timeout.clone();
    tokio::spawn(async move {
        tokio::time::sleep(SHUTDOWN_TIMEOUT).await;
        expire.cancel();
    });
    for service in services.iter().rev() {
        if let Err(error) = service.stop(timeout.clone()).await {
            tracing::warn!(service = service.name(), %error, "stopped with a problem");
        }
    }
    provider.dispose().await?;
    Ok(())
}
