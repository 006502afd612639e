//! A cron job resolved from a fresh scope at every firing (the Quartz "scoped job factory"):
//! the scoped `Cleanup` job is built by constructor injection with the firing's own scoped
//! `CleanupBatch`, which its dispose hook commits when the firing's scope ends.
//!
//! Run with:
//!
//! ```not_rust
//! cargo run -p samples --example cron_job
//! ```
//!
//! Stop it with Ctrl-C (or `kill -TERM <pid>`): a run in progress sees its cancellation token,
//! its scope is disposed and the host exits with code 0 within the 5 s shutdown timeout. Runs
//! never overlap; a firing missed while the machine was busy or asleep is skipped.
//! `CRON_SCHEDULE` sets the expression (default `*/2 * * * * *`, every two seconds; six fields
//! with seconds, or five without); `RUST_LOG` the log filter (default `info`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use di_core::{Injectable, Lifetime, Source};
use di_hosting::{BackgroundWorkExt, CancellationToken, CronJob, CronOptions, Host, MisfirePolicy, StopReport};

/// A singleton: the "table" the job cleans, shared by every firing.
#[derive(Debug, Injectable)]
struct Sessions {
    #[inject(default)]
    next: AtomicU64,
    #[inject(default)]
    expired: Mutex<Vec<u64>>,
}

/// Scoped: the work of one firing, committed by its dispose hook when the firing's scope ends.
#[derive(Debug, Injectable)]
struct CleanupBatch {
    #[inject(default)]
    removed: Mutex<Vec<u64>>,
}

/// The job: scoped, so every firing gets a fresh instance and a fresh `CleanupBatch`.
#[derive(Injectable)]
struct Cleanup {
    sessions: Arc<Sessions>,
    batch: Arc<CleanupBatch>,
}

#[async_trait]
impl CronJob for Cleanup {
    async fn run(&self, firing: DateTime<Utc>, cancel: CancellationToken) -> anyhow::Result<()> {
        // Pretend sessions expire all the time: two more since the last firing.
        let expired: Vec<u64> = {
            let mut expired = self.sessions.expired.lock().unwrap_or_else(PoisonError::into_inner);
            expired.extend((0..2).map(|_| self.sessions.next.fetch_add(1, Ordering::SeqCst) + 1));
            std::mem::take(&mut *expired)
        };
        tracing::info!(%firing, expired = expired.len(), "cleaning up");
        for session in expired {
            if cancel.is_cancelled() {
                tracing::info!("stopping mid-run; the rest waits for the next run");
                break;
            }
            self.batch.removed.lock().unwrap_or_else(PoisonError::into_inner).push(session);
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<StopReport> {
    samples::init_tracing();

    let schedule = std::env::var("CRON_SCHEDULE").unwrap_or_else(|_| "*/2 * * * * *".to_owned());
    let mut builder = Host::builder().shutdown_timeout(Duration::from_secs(5));
    let services = builder.services();
    services.add(Lifetime::Singleton, Source::<Sessions>::injected());
    services.add(Lifetime::Scoped, Source::<CleanupBatch>::injected()).on_dispose(|batch| {
        let removed = batch.removed.lock().unwrap_or_else(PoisonError::into_inner);
        tracing::info!(removed = ?*removed, "firing scope disposed: batch committed");
        Ok(())
    });
    services.add(Lifetime::Scoped, Source::<Cleanup>::injected());
    services.add_cron_job::<Cleanup>(
        &schedule,
        CronOptions::default().misfire(MisfirePolicy::Skip).name("cron_job::Cleanup"),
    )?;
    let host = builder.build()?;

    let report = host.run().await?;
    tracing::info!(exit_code = report.exit_code(), "{report}");
    Ok(report)
}
