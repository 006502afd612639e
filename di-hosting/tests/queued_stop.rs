//! Queued work at stop, in a host: the capacity counts queued items only, the seed's scenario
//! (items of three 5-second steps that observe their token, the 5 s default shutdown timeout)
//! under each stop policy, and errors after the token fired counted as cancellations.

mod work_support;

use std::sync::Arc;
use std::time::Duration;

use di_hosting::{
    BackgroundTaskQueue, BackgroundWorkExt, Host, QueueOptions, QueueStopPolicy, ScheduleError, WorkItem, WorkMetrics,
};
use tokio::time::{Instant, sleep, timeout};
use work_support::{Logs, Timeline};

/// The ASP.NET Core sample's item: three 5-second steps, each ending early when the token fires;
/// it then logs that it was cancelled and returns normally.
fn three_steps(timeline: &Timeline, name: &'static str) -> WorkItem {
    let timeline = timeline.clone();
    WorkItem::named(name, move |cx| async move {
        timeline.record(format!("start {name}"));
        let mut steps = 0;
        while !cx.cancel().is_cancelled() && steps < 3 {
            tokio::select! {
                () = cx.cancel().cancelled() => {}
                () = sleep(Duration::from_secs(5)) => steps += 1,
            }
        }
        timeline.record(if steps == 3 { format!("{name} complete") } else { format!("{name} cancelled") });
        Ok(())
    })
}

struct Running {
    host: Host,
    queue: Arc<dyn BackgroundTaskQueue>,
    metrics: Arc<WorkMetrics>,
}

/// Every test captures logs: tracing caches whether a log line is wanted the first time it is
/// reached, so a test without a subscriber could hide a line from one that has one.
async fn started(options: QueueOptions) -> Running {
    let host = Host::builder()
        .configure_services(|s| {
            s.add_queued_work(options.name("queue")).expect("valid options");
        })
        .build()
        .expect("the host builds");
    host.start().await.expect("the host starts");
    let queue = host.provider().get::<dyn BackgroundTaskQueue>().expect("the queue resolves");
    let metrics = host.provider().get::<WorkMetrics>().expect("the metrics resolve");
    Running { host, queue, metrics }
}

#[tokio::test(start_paused = true)]
async fn capacity_counts_the_items_waiting_and_len_is_exact() {
    let (_logs, _guard) = Logs::capture();
    let r = started(QueueOptions::default().capacity(1)).await;
    let timeline = Timeline::new();
    r.queue.enqueue(three_steps(&timeline, "a")).await.unwrap();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(timeline.events(), ["start a"], "the service took the first item");
    assert_eq!(r.queue.len(), 0, "a running item is not queued");
    r.queue.enqueue(three_steps(&timeline, "b")).await.unwrap();
    assert_eq!(r.queue.len(), 1, "one waiting");
    let full = r.queue.try_enqueue(three_steps(&timeline, "c")).unwrap_err();
    assert!(matches!(full, ScheduleError::QueueFull { capacity: 1, .. }), "capacity 1 holds one waiting item: {full}");
    sleep(Duration::from_secs(20)).await;
    assert_eq!(r.queue.len(), 0, "b was taken when a ended");
    assert_eq!(timeline.events(), ["start a", "a complete", "start b"]);
    timeout(Duration::from_secs(30), r.host.stop()).await.expect("stop is bounded");
}

#[tokio::test(start_paused = true)]
async fn seed_scenario_under_cancel_stops_cleanly_and_names_the_items_never_started() {
    let (logs, _guard) = Logs::capture();
    let r = started(QueueOptions::default().on_stop(QueueStopPolicy::Cancel)).await;
    let timeline = Timeline::new();
    for name in ["a", "b", "c"] {
        r.queue.enqueue(three_steps(&timeline, name)).await.unwrap();
    }
    sleep(Duration::from_secs(1)).await;
    let stopping = Instant::now();
    let report = timeout(Duration::from_secs(10), r.host.stop()).await.expect("stop is bounded");
    assert_eq!(stopping.elapsed(), Duration::ZERO, "the running item returned as soon as its token fired");
    assert!(report.is_success(), "a clean stop: {report}");
    assert_eq!(report.exit_code(), 0);
    assert_eq!(timeline.events(), ["start a", "a cancelled"], "b and c never started");
    assert_eq!((r.metrics.completed(), r.metrics.abandoned()), (1, 2), "a ended; b and c were dropped");
    let text = logs.text();
    assert!(
        text.contains("queued work items dropped without running") && text.contains("count=2"),
        "the dropped items are logged by count: {text}"
    );
    assert!(text.contains(r#"items=["b", "c"]"#), "and by name: {text}");
}

#[tokio::test(start_paused = true)]
async fn seed_scenario_under_drain_reports_exactly_what_was_cut_off_and_dropped() {
    let (_logs, _guard) = Logs::capture();
    let r = started(QueueOptions::default()).await;
    let timeline = Timeline::new();
    for name in ["a", "b", "c"] {
        r.queue.enqueue(three_steps(&timeline, name)).await.unwrap();
    }
    sleep(Duration::from_secs(1)).await;
    let stopping = Instant::now();
    let report = timeout(Duration::from_secs(10), r.host.stop()).await.expect("stop is bounded");
    assert_eq!(stopping.elapsed(), Duration::from_secs(5), "drained until the 5 s shutdown timeout");
    assert!(!report.is_success(), "the queue was not drained");
    sleep(Duration::from_millis(1)).await; // the cut-off item sees its token
    assert_eq!(timeline.events(), ["start a", "a cancelled"], "a was cut off at the timeout; b and c never started");
    let failure = &report.failures()[0];
    let error = failure.error().and_then(|e| e.downcast_ref::<ScheduleError>()).expect("a ScheduleError");
    assert_eq!(
        *error,
        ScheduleError::QueueStopTimedOut {
            service: "queue",
            policy: QueueStopPolicy::Drain,
            drained: 0,
            running: vec!["a".into()],
            not_started: vec!["b".into(), "c".into()],
        }
    );
    assert_eq!(
        error.to_string(),
        "`queue` did not drain its queue within the shutdown timeout: 0 finished while stopping, 1 item (`a`) still \
         running when the timeout fired their token, 2 items (`b`, `c`) never started; raise the shutdown timeout, \
         or use `QueueStopPolicy::Cancel` to cancel items as soon as stopping begins"
    );
    assert!(!error.to_string().contains("observe the cancellation token"), "no hint the item already follows");
    assert_eq!(r.metrics.abandoned(), 3, "one cut off, two dropped");
}

#[tokio::test(start_paused = true)]
async fn drain_finishes_what_fits_in_the_timeout() {
    let (_logs, _guard) = Logs::capture();
    let r = started(QueueOptions::default()).await;
    let timeline = Timeline::new();
    let short = |name: &'static str| {
        let timeline = timeline.clone();
        WorkItem::named(name, move |_cx| async move {
            sleep(Duration::from_secs(1)).await;
            timeline.record(name);
            Ok(())
        })
    };
    for name in ["a", "b", "c"] {
        r.queue.enqueue(short(name)).await.unwrap();
    }
    let report = timeout(Duration::from_secs(10), r.host.stop()).await.expect("stop is bounded");
    assert!(report.is_success(), "three 1 s items drain within 5 s: {report}");
    assert_eq!(timeline.events(), ["a", "b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn an_item_failing_after_its_token_fired_is_cancelled_not_failed() {
    let (logs, _guard) = Logs::capture();
    let r = started(QueueOptions::default().on_stop(QueueStopPolicy::Cancel)).await;
    r.queue
        .enqueue(WorkItem::named("upload", |cx| async move {
            cx.cancel().cancelled().await;
            anyhow::bail!("upload interrupted")
        }))
        .await
        .unwrap();
    sleep(Duration::from_secs(1)).await;
    let report = timeout(Duration::from_secs(10), r.host.stop()).await.expect("stop is bounded");
    assert!(report.is_success(), "a cancelled item does not fail the stop: {report}");
    assert_eq!((r.metrics.failed(), r.metrics.cancelled()), (0, 1));
    let text = logs.text();
    assert!(text.contains("work item cancelled") && text.contains("upload interrupted"), "logged at info: {text}");
    assert!(!text.contains("ERROR"), "not as an error: {text}");
}
