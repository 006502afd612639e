//! A timed service: on every tick the host creates a fresh scope, resolves the scoped
//! `dyn ScopedProcessingService` from it (built by constructor injection), runs it, and disposes
//! the scope: the Rust take on .NET's "timed background task" and "consuming a scoped service".
//!
//! Run with:
//!
//! ```not_rust
//! cargo run -p samples --example timed_service
//! ```
//!
//! Stop it with Ctrl-C (or `kill -TERM <pid>`): the tick in progress sees its cancellation token,
//! its scope is disposed, the singleton's dispose hook logs the total, and the host exits with
//! code 0 within the 5 s shutdown timeout. `TIMED_PERIOD_MS` sets the period (default 1000 ms);
//! `TIMED_WORK_MS` how long each tick works (default 200 ms); `RUST_LOG` the log filter
//! (default `info`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use di_core::{Injectable, Lifetime, Source};
use di_hosting::{BackgroundWorkExt, CancellationToken, Host, StopReport, TimedOptions, TimedTask};

/// Settings read once at start-up.
#[derive(Debug)]
struct TimedSettings {
    period: Duration,
    work: Duration,
}

impl TimedSettings {
    fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            period: samples::env_millis("TIMED_PERIOD_MS", 1000)?,
            work: samples::env_millis("TIMED_WORK_MS", 200)?,
        })
    }
}

/// The per-tick work, as a trait: the timed service resolves `dyn ScopedProcessingService`.
trait ScopedProcessingService: TimedTask {}

/// A singleton shared by every tick: how many ticks ran in this process.
#[derive(Debug, Injectable)]
struct Executions {
    #[inject(default)]
    count: AtomicU64,
}

/// Numbers the scopes, so the log shows which scope each tick ran in.
#[derive(Debug, Default)]
struct ScopeIds(AtomicU64);

/// Scoped: one per tick. Its dispose hook logs, so the log shows each scope end.
#[derive(Debug)]
struct TickScope {
    id: u64,
}

/// The handler: scoped, built by constructor injection from the singleton, the tick's own
/// `TickScope` and the settings.
#[derive(Injectable)]
#[injectable(provides(dyn ScopedProcessingService))]
struct Processor {
    executions: Arc<Executions>,
    scope: Arc<TickScope>,
    settings: Arc<TimedSettings>,
}

#[async_trait]
impl TimedTask for Processor {
    async fn tick(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        let count = self.executions.count.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::info!(count, scope = self.scope.id, "processing");
        tokio::select! {
            () = cancel.cancelled() => tracing::info!(scope = self.scope.id, "cancelled mid-tick"),
            () = tokio::time::sleep(self.settings.work) => {}
        }
        Ok(())
    }
}

impl ScopedProcessingService for Processor {}

#[tokio::main]
async fn main() -> anyhow::Result<StopReport> {
    samples::init_tracing();

    let settings = TimedSettings::from_env()?;
    let options = TimedOptions::every(settings.period).name("timed_service::Processor");
    let mut builder = Host::builder().shutdown_timeout(Duration::from_secs(5));
    let services = builder.services();
    services.add(Lifetime::Singleton, Source::instance(settings));
    services.add(Lifetime::Singleton, Source::instance(ScopeIds::default()));
    // A factory-made singleton is disposed when the host ends (an instance never is).
    services.add(Lifetime::Singleton, Source::<Executions>::injected()).on_dispose(|executions| {
        tracing::info!(ticks = executions.count.load(Ordering::SeqCst), "executions counter disposed");
        Ok(())
    });
    services
        .add_scoped::<TickScope>(|sp| {
            Ok(Arc::new(TickScope { id: sp.get::<ScopeIds>()?.0.fetch_add(1, Ordering::SeqCst) + 1 }))
        })
        .depends_on::<Arc<ScopeIds>>()
        .on_dispose(|scope| {
            tracing::info!(scope = scope.id, "tick scope disposed");
            Ok(())
        });
    services.add(Lifetime::Scoped, Source::<dyn ScopedProcessingService>::implemented_by::<Processor>());
    services.add_timed_service::<dyn ScopedProcessingService>(options)?;
    let host = builder.build()?;

    let report = host.run().await?;
    tracing::info!(exit_code = report.exit_code(), "{report}");
    Ok(report)
}
