//! A cron job resolved from a fresh scope at every firing (the Quartz "scoped job factory").
//!
//! Run with:
//!
//! ```not_rust
//! cargo run -p samples --example cron_job
//! ```
//!
//! It fires every two seconds for about seven seconds (Ctrl-C stops it sooner). Runs never
//! overlap; a firing missed while the machine was busy or asleep is skipped.

#[path = "support/drive.rs"]
mod drive;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use di_core::ServiceCollection;
use di_hosting::{BackgroundWorkExt, CancellationToken, CronJob, CronOptions, MisfirePolicy};

/// The job: scoped, so every firing gets a fresh instance.
struct Cleanup;

#[async_trait]
impl CronJob for Cleanup {
    async fn run(&self, firing: DateTime<Utc>, _cancel: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(%firing, "cleaning up");
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();

    let mut services = ServiceCollection::new();
    services.add_scoped::<Cleanup>(|_| Ok(Arc::new(Cleanup)));
    // Six fields (with seconds); five-field expressions such as "*/5 * * * *" work too.
    services.add_cron_job::<Cleanup>("*/2 * * * * *", CronOptions::default().misfire(MisfirePolicy::Skip))?;
    let provider = services.build()?;

    drive::run_until(&provider, tokio::time::sleep(Duration::from_secs(7))).await
}
