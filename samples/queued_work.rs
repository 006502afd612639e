//! Queued background work: a producer (a background service) enqueues mails into a bounded
//! queue through `Arc<dyn BackgroundTaskQueue>`, waiting while it is full; the queued-work
//! service sends them two at a time, each item in its own scope with its own scoped
//! `dyn Mailer` and `MailSession`.
//!
//! Run with:
//!
//! ```not_rust
//! cargo run -p samples --example queued_work
//! ```
//!
//! Stop it with Ctrl-C (or `kill -TERM <pid>`): the producer stops first, then the queue refuses
//! new work and drains what is queued within the 5 s shutdown timeout, the metrics are logged and
//! the host exits with code 0. With `QUEUE_STOP=cancel` the mails being sent are cancelled at
//! once instead (logged as cancelled, not as failures) and those still queued are dropped and
//! logged by name. With long sends (`QUEUE_SEND_MS=15000`) draining cannot finish: the stop report
//! names the mails cut off at the timeout and those never sent, and the exit code is 1.
//! `QUEUE_BURST_MS` sets how often the producer enqueues a burst of five mails (default
//! 1000 ms); `QUEUE_SEND_MS` how long sending one takes (default 300 ms); `RUST_LOG` the log
//! filter (default `info`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use di_core::{Injectable, Lifetime, Source};
use di_hosting::{
    BackgroundService, BackgroundTaskQueue, BackgroundWorkExt, CancellationToken, Host, HostingServiceCollectionExt,
    QueueOptions, QueueStopPolicy, StopReport, WorkItem, WorkMetrics,
};

/// How many mails the producer enqueues per burst: more than the queue holds, so it waits.
const BURST: u64 = 5;

/// Settings read once at start-up.
#[derive(Debug)]
struct QueueSettings {
    burst_every: Duration,
    send: Duration,
    on_stop: QueueStopPolicy,
}

impl QueueSettings {
    fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            burst_every: samples::env_millis("QUEUE_BURST_MS", 1000)?,
            send: samples::env_millis("QUEUE_SEND_MS", 300)?,
            on_stop: match std::env::var("QUEUE_STOP").as_deref() {
                Ok("cancel") => QueueStopPolicy::Cancel,
                Ok("drain") | Err(_) => QueueStopPolicy::Drain,
                Ok(other) => anyhow::bail!("QUEUE_STOP must be `drain` or `cancel`, not `{other}`"),
            },
        })
    }
}

/// What a work item resolves from its scope.
#[async_trait]
trait Mailer: Send + Sync {
    /// Sends one mail, giving up if `cancel` fires (the host is stopping, per the stop policy).
    async fn send(&self, to: &str, cancel: &CancellationToken) -> anyhow::Result<()>;
}

/// Numbers the sessions, so the log shows which scope sent which mail.
#[derive(Debug, Default)]
struct SessionIds(AtomicU64);

/// Scoped: one "SMTP session" per work item. Its dispose hook logs, so the log shows each
/// item's scope end.
#[derive(Debug)]
struct MailSession {
    id: u64,
}

/// The scoped mailer, built by constructor injection.
#[derive(Injectable)]
#[injectable(provides(dyn Mailer))]
struct SmtpMailer {
    session: Arc<MailSession>,
    settings: Arc<QueueSettings>,
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, to: &str, cancel: &CancellationToken) -> anyhow::Result<()> {
        tokio::select! {
            () = cancel.cancelled() => anyhow::bail!("sending to {to} was cancelled: the host is stopping"),
            () = tokio::time::sleep(self.settings.send) => {}
        }
        tracing::info!(to, session = self.session.id, "mail sent");
        Ok(())
    }
}

/// The producer: a background service that enqueues a burst of mails now and then.
#[derive(Injectable)]
struct Producer {
    queue: Arc<dyn BackgroundTaskQueue>,
    settings: Arc<QueueSettings>,
}

#[async_trait]
impl BackgroundService for Producer {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        let mut bursts = tokio::time::interval(self.settings.burst_every);
        let mut number = 0_u64;
        'bursts: loop {
            tokio::select! {
                () = stopping.cancelled() => break,
                _ = bursts.tick() => {}
            }
            for _ in 0..BURST {
                number += 1;
                let to = format!("user{number}@example.com");
                let item = WorkItem::named(format!("mail {number}"), move |cx| async move {
                    // `cx.services()` is this item's own scope: the mailer and its session are
                    // created for this mail and disposed when it is sent.
                    cx.services().get::<dyn Mailer>()?.send(&to, cx.cancel()).await
                });
                // Waits while the queue is full: backpressure instead of unbounded memory.
                tokio::select! {
                    () = stopping.cancelled() => break 'bursts,
                    queued = self.queue.enqueue(item) => queued?,
                }
                tracing::info!(mail = number, queued = self.queue.len(), "enqueued");
            }
        }
        tracing::info!(mails = number, "producer finished");
        Ok(())
    }

    fn name(&self) -> &'static str {
        "queued_work::Producer"
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<StopReport> {
    samples::init_tracing();

    let mut builder = Host::builder().shutdown_timeout(Duration::from_secs(5));
    let services = builder.services();
    let settings = QueueSettings::from_env()?;
    let on_stop = settings.on_stop;
    services.add(Lifetime::Singleton, Source::instance(settings));
    services.add(Lifetime::Singleton, Source::instance(SessionIds::default()));
    services
        .add_scoped::<MailSession>(|sp| {
            Ok(Arc::new(MailSession { id: sp.get::<SessionIds>()?.0.fetch_add(1, Ordering::SeqCst) + 1 }))
        })
        .depends_on::<Arc<SessionIds>>()
        .on_dispose(|session| {
            tracing::info!(session = session.id, "mail session closed");
            Ok(())
        });
    services.add(Lifetime::Scoped, Source::<dyn Mailer>::implemented_by::<SmtpMailer>());
    services.add_queued_work(
        QueueOptions::default().capacity(3).concurrency(2).on_stop(on_stop).name("queued_work::mail-queue"),
    )?;
    // Registered after the queue, so it is stopped before it: the producer is done enqueueing
    // by the time the queue closes and drains.
    services.add_background_service::<Producer>();
    let host = builder.build()?;
    let metrics = host.provider().get::<WorkMetrics>()?;

    let report = host.run().await?;
    tracing::info!(
        completed = metrics.completed(),
        failed = metrics.failed(),
        cancelled = metrics.cancelled(),
        abandoned = metrics.abandoned(),
        "mail queue drained"
    );
    tracing::info!(exit_code = report.exit_code(), "{report}");
    Ok(report)
}
