//! A timed service that resolves a scoped `ScopedProcessingService` from a fresh scope on every
//! tick: the Rust take on the reference's "timed background task" and "consuming a scoped service".
//!
//! Run with:
//!
//! ```not_rust
//! cargo run -p samples --example timed_service
//! ```
//!
//! It ticks every second for about five seconds (Ctrl-C stops it sooner); the tick in progress
//! sees its cancellation token and the scope it ran in is disposed.

#[path = "support/drive.rs"]
mod drive;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use di_core::ServiceCollection;
use di_hosting::{BackgroundWorkExt, CancellationToken, TimedOptions, TimedTask};

/// The per-tick work, as a trait object registered scoped.
trait ScopedProcessingService: TimedTask {}

/// A singleton shared by every tick.
#[derive(Default)]
struct Executions(AtomicU64);

/// One instance per tick: it sees the singleton and its own scope id.
struct Processor {
    executions: Arc<Executions>,
    scope_id: u64,
}

#[async_trait]
impl TimedTask for Processor {
    async fn tick(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        let count = self.executions.0.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::info!(count, scope_id = self.scope_id, "processing");
        tokio::select! {
            () = cancel.cancelled() => tracing::info!("cancelled mid-tick"),
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        Ok(())
    }
}

impl ScopedProcessingService for Processor {}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();

    let scope_ids = Arc::new(AtomicU64::new(0));
    let mut services = ServiceCollection::new();
    services.add_singleton::<Executions>(|_| Ok(Arc::new(Executions::default())));
    services
        .add_scoped::<dyn ScopedProcessingService>(move |sp| {
            let scope_id = scope_ids.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::new(Processor { executions: sp.get::<Executions>()?, scope_id }))
        })
        .on_dispose(|_| {
            tracing::info!("tick scope disposed");
            Ok(())
        });
    services.add_timed_service::<dyn ScopedProcessingService>(
        TimedOptions::every(Duration::from_secs(1)).name("timed-processor"),
    )?;
    let provider = services.build()?;

    drive::run_until(&provider, tokio::time::sleep(Duration::from_millis(4_500))).await
}
