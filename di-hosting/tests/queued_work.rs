//! Queued background work on paused time: backpressure at capacity, FIFO order, concurrency,
//! one scope per item, failures, drain on stop, and the report at the shutdown timeout.

mod work_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use di_core::{ServiceCollection, ServiceProvider};
use di_hosting::{BackgroundTaskQueue, BackgroundWorkExt, QueueOptions, ScheduleError, WorkItem, WorkMetrics};
use tokio::time::{Instant, sleep, timeout};
use work_support::{Logs, Timeline, start_all, stop_all};

/// A scoped service numbered per scope, disposed (asynchronously) with it.
struct Unit(usize);

struct Harness {
    provider: Arc<ServiceProvider>,
    queue: Arc<dyn BackgroundTaskQueue>,
    metrics: Arc<WorkMetrics>,
    disposed: Arc<AtomicUsize>,
}

fn harness(options: QueueOptions) -> Harness {
    let disposed = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    let counter = Arc::clone(&disposed);
    services.add_scoped::<Unit>(move |_| Ok(Arc::new(Unit(created.fetch_add(1, Ordering::SeqCst))))).on_dispose_async(
        move |_unit: Arc<Unit>| {
            let counter = Arc::clone(&counter);
            async move {
                tokio::task::yield_now().await;
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        },
    );
    services.add_queued_work(options.name("mailer")).expect("valid options");
    let provider = services.build().expect("container builds");
    let queue = provider.get::<dyn BackgroundTaskQueue>().expect("the queue resolves");
    let metrics = provider.get::<WorkMetrics>().expect("the metrics resolve");
    Harness { provider, queue, metrics, disposed }
}

/// An item that records its start and end and takes `secs`.
fn timed_item(timeline: &Timeline, name: &'static str, secs: u64) -> WorkItem {
    let timeline = timeline.clone();
    WorkItem::named(name, move |cx| async move {
        let unit = cx.services().get::<Unit>()?;
        timeline.record(format!("start {name} in scope {}", unit.0));
        sleep(Duration::from_secs(secs)).await;
        timeline.record(format!("end {name}"));
        Ok(())
    })
}

#[tokio::test(start_paused = true)]
async fn enqueue_waits_at_capacity_and_try_enqueue_says_full() {
    let h = harness(QueueOptions::default().capacity(2));
    let timeline = Timeline::new();
    h.queue.try_enqueue(timed_item(&timeline, "a", 1)).unwrap();
    h.queue.enqueue(timed_item(&timeline, "b", 1)).await.unwrap();
    let err = h.queue.try_enqueue(timed_item(&timeline, "c", 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "background task queue `di_hosting::BoundedTaskQueue` is full (2 items); await `enqueue` to wait for room, \
         or raise `QueueOptions::capacity`"
    );
    let waited = timeout(Duration::from_secs(60), h.queue.enqueue(timed_item(&timeline, "c", 1))).await;
    assert!(waited.is_err(), "enqueue waits while the queue is full and nothing drains it");
    assert_eq!(h.queue.len(), 2, "the queue holds its capacity");

    let services = start_all(&h.provider).await;
    let started = Instant::now();
    h.queue.enqueue(timed_item(&timeline, "c", 1)).await.unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO, "room appears as soon as the first item is taken");
    stop_all(&services, Duration::from_secs(10)).await;
    assert_eq!(h.metrics.completed(), 3, "all three items ran");
}

#[tokio::test(start_paused = true)]
async fn items_run_one_at_a_time_in_fifo_order_each_in_its_own_scope() {
    let h = harness(QueueOptions::default());
    let timeline = Timeline::new();
    for name in ["a", "b", "c"] {
        h.queue.enqueue(timed_item(&timeline, name, 2)).await.unwrap();
    }
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(10)).await;
    stop_all(&services, Duration::from_secs(5)).await;
    assert_eq!(
        timeline.events(),
        ["start a in scope 0", "end a", "start b in scope 1", "end b", "start c in scope 2", "end c"],
        "sequential, first in first out, a fresh scope each"
    );
    assert_eq!(timeline.times_of("end c"), [6.0], "three 2 s items back to back");
    assert_eq!(h.disposed.load(Ordering::SeqCst), 3, "each item's scope was disposed, async hook awaited");
}

#[tokio::test(start_paused = true)]
async fn concurrency_runs_several_items_at_once() {
    let h = harness(QueueOptions::default().concurrency(2));
    let timeline = Timeline::new();
    for name in ["a", "b", "c", "d"] {
        h.queue.enqueue(timed_item(&timeline, name, 10)).await.unwrap();
    }
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(30)).await;
    stop_all(&services, Duration::from_secs(5)).await;
    let ends: Vec<f64> = ["a", "b", "c", "d"].iter().flat_map(|n| timeline.times_of(&format!("end {n}"))).collect();
    assert_eq!(ends, [10.0, 10.0, 20.0, 20.0], "two at a time");
}

#[tokio::test(start_paused = true)]
async fn failing_and_panicking_items_are_logged_counted_and_the_loop_goes_on() {
    let (logs, _guard) = Logs::capture();
    let h = harness(QueueOptions::default());
    let timeline = Timeline::new();
    h.queue.enqueue(WorkItem::named("bad", |_cx| async { Err(anyhow::anyhow!("smtp refused")) })).await.unwrap();
    h.queue.enqueue(WorkItem::named("boom", |_cx| async { panic!("item exploded") })).await.unwrap();
    h.queue.enqueue(timed_item(&timeline, "good", 1)).await.unwrap();
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(5)).await;
    assert_eq!((h.metrics.completed(), h.metrics.failed()), (1, 2), "one completed, two failed");
    assert_eq!(timeline.times_of("end good"), [1.0], "the good item ran after the bad ones");
    stop_all(&services, Duration::from_secs(5)).await;
    let text = logs.text();
    assert!(text.contains("work item failed") && text.contains("smtp refused"), "the error is logged: {text}");
    assert!(text.contains("work item panicked with message \"item exploded\""), "the panic is logged: {text}");
    assert!(text.contains("item=boom") && text.contains("service=\"mailer\""), "logs name item and service: {text}");
}

#[tokio::test(start_paused = true)]
async fn stop_refuses_new_work_and_drains_what_is_queued() {
    let h = harness(QueueOptions::default());
    let timeline = Timeline::new();
    for name in ["a", "b", "c"] {
        h.queue.enqueue(timed_item(&timeline, name, 1)).await.unwrap();
    }
    let services = start_all(&h.provider).await;
    let stopping = Instant::now();
    let results = stop_all(&services, Duration::from_secs(5)).await;
    assert_eq!(stopping.elapsed(), Duration::from_secs(3), "stop returned once the three 1 s items were drained");
    assert!(results.iter().all(Result::is_ok), "a drained queue stops cleanly");
    assert_eq!(h.metrics.completed(), 3, "every queued item ran");
    let err = h.queue.try_enqueue(timed_item(&timeline, "late", 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "background task queue `di_hosting::BoundedTaskQueue` is closed because the host is stopping; new work is \
         refused"
    );
    let err = h.queue.enqueue(timed_item(&timeline, "late", 1)).await.unwrap_err();
    assert!(matches!(err, ScheduleError::QueueClosed { .. }), "enqueue is refused too: {err}");
}

#[tokio::test(start_paused = true)]
async fn a_producer_waiting_for_room_is_refused_when_the_host_stops() {
    let h = harness(QueueOptions::default().capacity(1));
    let timeline = Timeline::new();
    h.queue.enqueue(timed_item(&timeline, "a", 1)).await.unwrap();
    let queue = Arc::clone(&h.queue);
    let waiting = tokio::spawn({
        let item = timed_item(&timeline, "b", 1);
        async move { queue.enqueue(item).await }
    });
    tokio::task::yield_now().await;
    h.queue.close();
    let refused = waiting.await.unwrap().unwrap_err();
    assert!(matches!(refused, ScheduleError::QueueClosed { .. }), "the waiting producer learns the queue closed");
    assert_eq!(h.queue.len(), 1, "the item queued before the close is kept for draining");
}

#[tokio::test(start_paused = true)]
async fn at_the_timeout_running_and_queued_items_are_reported_and_logged() {
    let (logs, _guard) = Logs::capture();
    let h = harness(QueueOptions::default());
    let timeline = Timeline::new();
    let cancelled_at = Arc::new(std::sync::Mutex::new(None));
    let seen = Arc::clone(&cancelled_at);
    let origin = Instant::now();
    h.queue
        .enqueue(WorkItem::named("slow", move |cx| async move {
            cx.cancel().cancelled().await;
            *seen.lock().unwrap() = Some(origin.elapsed());
            sleep(Duration::from_secs(3600)).await; // ignores the cancellation
            Ok(())
        }))
        .await
        .unwrap();
    h.queue.enqueue(timed_item(&timeline, "second", 1)).await.unwrap();
    h.queue.enqueue(timed_item(&timeline, "third", 1)).await.unwrap();
    let services = start_all(&h.provider).await;
    let mut results = stop_all(&services, Duration::from_secs(5)).await;
    assert_eq!(origin.elapsed(), Duration::from_secs(5), "stop gave up at the shutdown timeout");
    let error = results.pop().unwrap().expect_err("abandoned work is reported");
    let error = error.downcast::<ScheduleError>().unwrap();
    assert_eq!(
        error,
        ScheduleError::QueueStopTimedOut {
            service: "mailer",
            policy: di_hosting::QueueStopPolicy::Drain,
            drained: 0,
            running: vec!["slow".into()],
            not_started: vec!["second".into(), "third".into()],
        }
    );
    assert_eq!(
        error.to_string(),
        "`mailer` did not drain its queue within the shutdown timeout: 0 finished while stopping, 1 item (`slow`) \
         still running when the timeout fired their token, 2 items (`second`, `third`) never started; raise the \
         shutdown timeout, or use `QueueStopPolicy::Cancel` to cancel items as soon as stopping begins"
    );
    assert_eq!(h.metrics.abandoned(), 3, "the metrics count the abandoned items");
    tokio::task::yield_now().await;
    assert_eq!(*cancelled_at.lock().unwrap(), Some(Duration::from_secs(5)), "the running item was cancelled then");
    let text = logs.text();
    assert!(text.contains("queued work items dropped") && text.contains("second"), "dropped items named: {text}");
    assert!(timeline.events().is_empty(), "the queued items never started");
}

#[tokio::test]
async fn bad_options_and_a_second_registration_are_rejected() {
    let mut services = ServiceCollection::new();
    let err = services.add_queued_work(QueueOptions::default().capacity(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "background task queue `di_hosting::BoundedTaskQueue` has a capacity of zero; use a capacity of at least one"
    );
    let err = services.add_queued_work(QueueOptions::default().concurrency(0)).unwrap_err();
    assert!(matches!(err, ScheduleError::ZeroConcurrency { .. }), "zero concurrency: {err}");
    services.add_queued_work(QueueOptions::default()).unwrap();
    let err = services.add_queued_work(QueueOptions::default()).unwrap_err();
    assert_eq!(err, ScheduleError::QueueAlreadyAdded, "one consumer per queue");
}

#[tokio::test(start_paused = true)]
async fn stop_host_policy_stops_draining_and_reports_what_was_left() {
    let (logs, _guard) = Logs::capture();
    let h = harness(QueueOptions::default().on_failure(di_hosting::FailurePolicy::StopHost));
    let timeline = Timeline::new();
    h.queue.enqueue(WorkItem::named("bad", |_cx| async { Err(anyhow::anyhow!("smtp refused")) })).await.unwrap();
    h.queue.enqueue(timed_item(&timeline, "second", 1)).await.unwrap();
    h.queue.enqueue(timed_item(&timeline, "third", 1)).await.unwrap();
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(5)).await;
    assert!(timeline.events().is_empty(), "no item ran after the failure");
    let results = stop_all(&services, Duration::from_secs(5)).await;
    assert!(results.iter().all(Result::is_ok), "nothing was running at stop");
    assert_eq!((h.metrics.failed(), h.metrics.abandoned()), (1, 2), "one failed, two dropped and counted");
    let text = logs.text();
    assert!(text.contains("queued work items dropped") && text.contains("third"), "dropped items named: {text}");
}
