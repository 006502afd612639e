//! The work services inside a host's machinery: their tasks run on the host's `HostTasks` and
//! stop with its token; their metrics and last success are on the host's `StatusBoard`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use di_core::{Lifetime, ServiceCollection, Source};

use crate::status::StatusBoard;
use crate::tasks::HostTasks;
use crate::{
    BackgroundTaskQueue, BackgroundWorkExt, CancellationToken, CronJob, CronOptions, HostedService, QueueOptions,
    TimedOptions, TimedTask, TokioClock, WorkItem,
};

struct Tick;

#[async_trait]
impl TimedTask for Tick {
    async fn tick(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

#[async_trait]
impl CronJob for Tick {
    async fn run(&self, _firing: DateTime<Utc>, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn work_runs_on_the_hosts_tasks_stops_with_its_token_and_records_its_status() {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::<HostTasks>::instance(HostTasks::default()));
    services.add(Lifetime::Singleton, Source::<StatusBoard>::instance(StatusBoard::default()));
    services.add_scoped::<Tick>(|_| Ok(Arc::new(Tick)));
    services.add_timed_service::<Tick>(TimedOptions::every(Duration::from_secs(1)).name("ticker")).unwrap();
    let clock = TokioClock::starting_at(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
    services.add_cron_job::<Tick>("* * * * * *", CronOptions::default().clock(clock).name("cron")).unwrap();
    services.add_queued_work(QueueOptions::default().name("queue")).unwrap();
    let provider = services.build().unwrap();
    let tasks = provider.get::<HostTasks>().unwrap();
    let board = provider.get::<StatusBoard>().unwrap();
    // What the host does at start: one status entry per registration.
    let hosted = provider.resolve::<Vec<Arc<dyn HostedService>>>().unwrap();
    board.register(&hosted);
    for service in &hosted {
        service.start(CancellationToken::new()).await.unwrap();
    }
    let queue = provider.get::<dyn BackgroundTaskQueue>().unwrap();
    queue.enqueue(WorkItem::named("item", |_cx| async { Ok(()) })).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    assert_eq!(tasks.running(), ["cron", "queue", "ticker"], "one task per service, on the host's tracker");
    let status = board.snapshot();
    let ticker = status.service("ticker").expect("the timed service is on the board");
    assert_eq!(ticker.metrics.as_ref().map(|m| m.completed()), Some(3), "ticks at 0, 1 and 2 s");
    assert!(ticker.last_success.is_some(), "its last success is recorded");
    let cron = status.service("cron").expect("the cron job is on the board");
    assert_eq!(cron.metrics.as_ref().map(|m| m.completed()), Some(2), "firings at 1 and 2 s");
    assert!(cron.last_success.is_some());
    let queued = status.service("queue").expect("the queue is on the board");
    assert_eq!(queued.metrics.as_ref().map(|m| m.completed()), Some(1));

    // The host stopping cancels its root token: every loop ends (the queue closes and drains).
    tasks.cancel();
    tasks.close();
    tokio::time::timeout(Duration::from_secs(1), tasks.wait()).await.expect("every work task ended");
    assert!(queue.is_closed(), "the queue refuses work once the host stops");
}

#[tokio::test(start_paused = true)]
async fn outside_a_host_work_runs_on_a_standalone_tracker() {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Tick>(|_| Ok(Arc::new(Tick)));
    services.add_timed_service::<Tick>(TimedOptions::every(Duration::from_secs(1))).unwrap();
    let provider = services.build().unwrap();
    let service = provider.get::<dyn HostedService>().unwrap();
    service.start(CancellationToken::new()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deadline = CancellationToken::new();
    tokio::time::timeout(Duration::from_secs(1), service.stop(deadline)).await.unwrap().unwrap();
}
