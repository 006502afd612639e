//! Queued background work: a producer enqueues work items into a bounded queue (waiting when it
//! is full), a hosted service drains it two at a time, each item in its own scope.
//!
//! Run with:
//!
//! ```not_rust
//! cargo run -p samples --example queued_work
//! ```
//!
//! After the producer is done the service stops: new work is refused, the queue is drained within
//! the 5 s shutdown timeout, and the metrics are logged.

#[path = "support/drive.rs"]
mod drive;

use std::sync::Arc;
use std::time::Duration;

use di_core::ServiceCollection;
use di_hosting::{BackgroundTaskQueue, BackgroundWorkExt, QueueOptions, WorkItem, WorkMetrics};

/// A scoped service each work item resolves from its own scope.
struct Mailer;

impl Mailer {
    async fn send(&self, to: &str) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        tracing::info!(to, "mail sent");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();

    let mut services = ServiceCollection::new();
    services.add_scoped::<Mailer>(|_| Ok(Arc::new(Mailer)));
    services.add_queued_work(QueueOptions::default().capacity(3).concurrency(2).name("mail-queue"))?;
    let provider = services.build()?;
    let queue = provider.get::<dyn BackgroundTaskQueue>()?;
    let metrics = provider.get::<WorkMetrics>()?;

    let producer = async {
        for n in 0..8 {
            let to = format!("user{n}@example.com");
            let item = WorkItem::named(format!("mail {n}"), move |cx| async move {
                cx.services().get::<Mailer>()?.send(&to).await;
                Ok(())
            });
            // Waits while three items are queued: backpressure instead of unbounded memory.
            if let Err(error) = queue.enqueue(item).await {
                tracing::warn!(%error, "could not enqueue");
            }
            tracing::info!(queued = queue.len(), "enqueued mail {n}");
        }
    };
    drive::run_until(&provider, producer).await?;

    if let Err(error) = queue.try_enqueue(WorkItem::new(|_cx| async { Ok(()) })) {
        tracing::info!(%error, "after stop");
    }
    tracing::info!(completed = metrics.completed(), failed = metrics.failed(), "done");
    Ok(())
}
