//! A host whose one async disposal hook never returns, for `tests/host_shutdown_process.rs`.
//!
//! It prints `started` once the host has started and `dispose hook started` when disposal
//! reaches the hook, then waits for signals like any host. `HUNG_DISPOSE_TIMEOUT_MS` sets the
//! shutdown timeout (default 2000 ms).

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use di_hosting::{Host, HostError, StopReport};

/// The singleton whose disposal hangs.
struct Resource;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main]
async fn main() -> Result<StopReport, HostError> {
    let millis = std::env::var("HUNG_DISPOSE_TIMEOUT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let host = Host::builder()
        .shutdown_timeout(Duration::from_millis(millis))
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(|s| {
            s.add_singleton::<Resource>(|_| Ok(Arc::new(Resource))).on_dispose_async(|_| async {
                say("dispose hook started");
                std::future::pending::<Result<(), di_core::BoxError>>().await
            });
        })
        .build()?;
    if let Err(error) = host.provider().get::<Resource>() {
        say(&format!("could not create the resource: {error}"));
    }
    host.lifetime().on_started(|| {
        say("started");
        Ok(())
    });
    let report = host.run().await?;
    say(&format!("run returned: {report}"));
    Ok(report)
}
