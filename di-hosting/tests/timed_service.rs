//! Timed services on paused time: tick counts under each missed-tick policy, no overlap, one
//! scope per tick and its disposal, failures and panics, stop and its timeout, bad options.

mod work_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use di_core::{Lifetime, ServiceCollection, ServiceProvider, Source};
use di_hosting::{
    ApplicationLifetime, BackgroundWorkExt, CancellationToken, FailurePolicy, MissedTickPolicy, ScheduleError,
    TimedOptions, TimedTask,
};
use tokio::time::{Instant, sleep};
use work_support::{Logs, Timeline, start_all, stop_all};

/// What the n-th tick (0-based) does.
#[derive(Clone, Copy)]
enum Step {
    Take(u64),
    TakeMillis(u64),
    Fail,
    FailAfterCancel,
    Panic,
    IgnoreCancel,
    CleanUpAfterCancel,
}

struct Script {
    timeline: Timeline,
    steps: fn(usize) -> Step,
    started: AtomicUsize,
    running: AtomicUsize,
    most_running: AtomicUsize,
}

/// The scoped handler: a fresh one per tick, numbered so ticks can tell instances apart.
struct Ticker {
    script: Arc<Script>,
    instance: usize,
}

#[async_trait]
impl TimedTask for Ticker {
    async fn tick(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        let script = &self.script;
        let index = script.started.fetch_add(1, Ordering::SeqCst);
        script.timeline.record("tick");
        script.timeline.record(format!("instance {}", self.instance));
        let running = script.running.fetch_add(1, Ordering::SeqCst) + 1;
        script.most_running.fetch_max(running, Ordering::SeqCst);
        let outcome = match (script.steps)(index) {
            Step::Take(secs) => {
                sleep(Duration::from_secs(secs)).await;
                Ok(())
            }
            Step::TakeMillis(millis) => {
                sleep(Duration::from_millis(millis)).await;
                Ok(())
            }
            Step::Fail => Err(anyhow::anyhow!("disk full")),
            Step::FailAfterCancel => {
                cancel.cancelled().await;
                Err(anyhow::anyhow!("interrupted"))
            }
            Step::Panic => panic!("tick exploded"),
            Step::IgnoreCancel => {
                sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
            Step::CleanUpAfterCancel => {
                cancel.cancelled().await;
                script.timeline.record("saw cancel");
                sleep(Duration::from_secs(1)).await;
                Ok(())
            }
        };
        script.running.fetch_sub(1, Ordering::SeqCst);
        outcome
    }
}

struct Harness {
    provider: Arc<ServiceProvider>,
    script: Arc<Script>,
    disposed: Arc<AtomicUsize>,
}

fn harness(options: TimedOptions, steps: fn(usize) -> Step, lifetime: Option<ApplicationLifetime>) -> Harness {
    let script = Arc::new(Script {
        timeline: Timeline::new(),
        steps,
        started: AtomicUsize::new(0),
        running: AtomicUsize::new(0),
        most_running: AtomicUsize::new(0),
    });
    let disposed = Arc::new(AtomicUsize::new(0));
    let instances = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::<Script>::instance(Arc::clone(&script)));
    if let Some(lifetime) = lifetime {
        services.add(Lifetime::Singleton, Source::<ApplicationLifetime>::instance(lifetime));
    }
    let counter = Arc::clone(&disposed);
    services
        .add_scoped::<Ticker>(move |sp| {
            Ok(Arc::new(Ticker { script: sp.get::<Script>()?, instance: instances.fetch_add(1, Ordering::SeqCst) }))
        })
        .on_dispose_async(move |_ticker: Arc<Ticker>| {
            let counter = Arc::clone(&counter);
            async move {
                tokio::task::yield_now().await; // truly asynchronous: only counted if awaited
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
    services.add_timed_service::<Ticker>(options.name("ticker")).expect("valid options");
    Harness { provider: services.build().expect("container builds"), script, disposed }
}

fn instant(_: usize) -> Step {
    Step::Take(0)
}

fn first_takes_35s(index: usize) -> Step {
    if index == 0 { Step::Take(35) } else { Step::Take(0) }
}

/// Start times (s) of the ticks that started within the first simulated minute.
async fn ticks_in_a_minute(options: TimedOptions, steps: fn(usize) -> Step) -> Vec<f64> {
    let h = harness(options, steps, None);
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(60)).await;
    stop_all(&services, Duration::from_secs(5)).await;
    h.script.timeline.times_of("tick").into_iter().filter(|at| *at < 60.0).collect()
}

#[tokio::test(start_paused = true)]
async fn ticks_at_once_then_every_period() {
    let ticks = ticks_in_a_minute(TimedOptions::every(Duration::from_secs(10)), instant).await;
    assert_eq!(ticks, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0], "a tick at start, then one every 10 s");
}

#[tokio::test(start_paused = true)]
async fn first_delay_postpones_only_the_first_tick() {
    let options = TimedOptions::every(Duration::from_secs(10)).first_delay(Duration::from_secs(5));
    let ticks = ticks_in_a_minute(options, instant).await;
    assert_eq!(ticks, [5.0, 15.0, 25.0, 35.0, 45.0, 55.0], "first tick after 5 s, then every 10 s");
}

#[tokio::test(start_paused = true)]
async fn skip_drops_missed_ticks_and_keeps_the_grid() {
    let options = TimedOptions::every(Duration::from_secs(10)).missed_tick(MissedTickPolicy::Skip);
    let ticks = ticks_in_a_minute(options, first_takes_35s).await;
    assert_eq!(ticks, [0.0, 40.0, 50.0], "ticks due at 10, 20, 30 were skipped; the next slot is 40");
}

#[tokio::test(start_paused = true)]
async fn delay_runs_one_late_tick_and_restarts_the_schedule() {
    let options = TimedOptions::every(Duration::from_secs(10)).missed_tick(MissedTickPolicy::Delay);
    let ticks = ticks_in_a_minute(options, first_takes_35s).await;
    assert_eq!(ticks, [0.0, 35.0, 45.0, 55.0], "one late tick at 35, then every 10 s from there");
}

#[tokio::test(start_paused = true)]
async fn burst_catches_up_every_missed_tick() {
    let options = TimedOptions::every(Duration::from_secs(10)).missed_tick(MissedTickPolicy::Burst);
    let ticks = ticks_in_a_minute(options, first_takes_35s).await;
    assert_eq!(ticks, [0.0, 35.0, 35.0, 35.0, 40.0, 50.0], "ticks due at 10, 20, 30 all run at 35");
}

#[tokio::test(start_paused = true)]
async fn a_tick_never_starts_while_the_previous_one_runs() {
    let h = harness(TimedOptions::every(Duration::from_secs(10)), |_| Step::Take(25), None);
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(120)).await;
    stop_all(&services, Duration::from_secs(30)).await;
    assert_eq!(h.script.most_running.load(Ordering::SeqCst), 1, "at most one tick at a time");
    assert_eq!(h.script.timeline.times_of("tick"), [0.0, 30.0, 60.0, 90.0], "each 25 s tick skips two slots");
}

#[tokio::test(start_paused = true)]
async fn a_tick_as_long_as_the_period_skips_nothing() {
    let ticks = ticks_in_a_minute(TimedOptions::every(Duration::from_secs(10)), |_| Step::Take(10)).await;
    assert_eq!(ticks, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0], "each tick ended as the next fell due: none was running");
}

#[tokio::test(start_paused = true)]
async fn a_1ms_period_ticks_2000_times_in_2s_and_skips_only_while_a_tick_runs() {
    let count_ticks = |steps: fn(usize) -> Step| async move {
        let h = harness(TimedOptions::every(Duration::from_millis(1)), steps, None);
        let services = start_all(&h.provider).await;
        sleep(Duration::from_micros(1_999_500)).await; // the slots at 0, 1, ..., 1999 ms
        let ticks = h.script.timeline.times_of("tick").len();
        stop_all(&services, Duration::from_secs(5)).await;
        ticks
    };
    assert_eq!(count_ticks(instant).await, 2000, "no tick skipped: none was running when the next fell due");
    let long_every_tenth = |index: usize| if index.is_multiple_of(10) { Step::TakeMillis(3) } else { Step::Take(0) };
    // Ticks 0, 10, 20... take 3 ms: the two slots each of them still runs on are skipped, no
    // others, so every 12 ms sees 10 ticks: 166 such rounds up to 1992 ms, then 1992 (3 ms) and
    // 1995 to 1999.
    assert_eq!(count_ticks(long_every_tenth).await, 1666, "only slots a 3 ms tick was still running on are skipped");
}

#[tokio::test(start_paused = true)]
async fn a_tick_failing_after_its_token_fired_at_stop_is_cancelled_not_failed() {
    let (logs, _guard) = Logs::capture();
    let h = harness(TimedOptions::every(Duration::from_secs(10)), |_| Step::FailAfterCancel, None);
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(1)).await;
    let results = stop_all(&services, Duration::from_secs(5)).await;
    assert!(results.iter().all(Result::is_ok), "a cancelled tick is not a failed stop");
    let text = logs.text();
    assert!(text.contains("INFO") && text.contains("tick cancelled"), "logged as cancelled: {text}");
    assert!(!text.contains("ERROR"), "not as an error: {text}");
}

#[tokio::test(start_paused = true)]
async fn max_concurrent_ticks_allows_overlap_when_asked() {
    let options = TimedOptions::every(Duration::from_secs(10)).max_concurrent_ticks(3);
    let h = harness(options, |_| Step::Take(25), None);
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(59)).await;
    stop_all(&services, Duration::from_secs(30)).await;
    assert_eq!(h.script.most_running.load(Ordering::SeqCst), 3, "three 25 s ticks overlap at a 10 s period");
    assert_eq!(h.script.timeline.times_of("tick"), [0.0, 10.0, 20.0, 30.0, 40.0, 50.0], "no tick was missed");
}

#[tokio::test(start_paused = true)]
async fn every_tick_gets_a_fresh_scope_disposed_when_it_ends() {
    let h = harness(TimedOptions::every(Duration::from_secs(10)), |_| Step::Take(1), None);
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(45)).await;
    stop_all(&services, Duration::from_secs(5)).await;
    let events = h.script.timeline.events();
    let instances: Vec<_> = events.iter().filter(|e| e.starts_with("instance")).cloned().collect();
    assert_eq!(
        instances,
        ["instance 0", "instance 1", "instance 2", "instance 3", "instance 4"],
        "one handler per tick"
    );
    assert_eq!(h.disposed.load(Ordering::SeqCst), 5, "every tick's scope was disposed, async hook awaited");
}

#[tokio::test(start_paused = true)]
async fn failing_and_panicking_ticks_are_logged_and_later_ticks_still_run() {
    let (logs, _guard) = Logs::capture();
    let steps = |index| match index {
        0 => Step::Fail,
        1 => Step::Panic,
        _ => Step::Take(0),
    };
    let h = harness(TimedOptions::every(Duration::from_secs(10)), steps, None);
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(35)).await;
    stop_all(&services, Duration::from_secs(5)).await;
    assert_eq!(h.script.timeline.times_of("tick"), [0.0, 10.0, 20.0, 30.0], "ticks go on after a failure");
    assert_eq!(h.disposed.load(Ordering::SeqCst), 4, "failed and panicked ticks' scopes were disposed too");
    let text = logs.text();
    assert!(text.contains("tick failed") && text.contains("disk full"), "the error is logged: {text}");
    assert!(text.contains("tick panicked with message \"tick exploded\""), "the panic is logged: {text}");
    assert!(text.contains("service=\"ticker\""), "logs name the service: {text}");
}

#[tokio::test(start_paused = true)]
async fn stop_host_policy_stops_the_application_and_further_ticks() {
    let lifetime = ApplicationLifetime::new();
    let options = TimedOptions::every(Duration::from_secs(10)).on_failure(FailurePolicy::StopHost);
    let h = harness(options, |index| if index == 1 { Step::Fail } else { Step::Take(0) }, Some(lifetime.clone()));
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(60)).await;
    assert!(lifetime.stopping().is_cancelled(), "the failing tick asked the host to stop");
    assert_eq!(h.script.timeline.times_of("tick"), [0.0, 10.0], "no tick after the failure");
    let results = stop_all(&services, Duration::from_secs(5)).await;
    assert!(results.iter().all(Result::is_ok), "stop after a StopHost failure is clean");
}

#[tokio::test(start_paused = true)]
async fn stop_cancels_the_running_tick_and_waits_for_it() {
    let h = harness(TimedOptions::every(Duration::from_secs(10)), |_| Step::CleanUpAfterCancel, None);
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(3)).await;
    let stopping = Instant::now();
    let results = stop_all(&services, Duration::from_secs(5)).await;
    assert_eq!(stopping.elapsed(), Duration::from_secs(1), "stop waited for the tick's 1 s clean-up, no longer");
    assert!(results.iter().all(Result::is_ok), "a tick that honours cancellation stops cleanly");
    assert_eq!(h.script.timeline.times_of("saw cancel"), [3.0], "the tick saw the cancellation at stop");
    assert_eq!(h.disposed.load(Ordering::SeqCst), 1, "its scope was disposed");
}

#[tokio::test(start_paused = true)]
async fn stop_gives_up_at_the_timeout_and_reports_the_running_tick() {
    let (logs, _guard) = Logs::capture();
    let h = harness(TimedOptions::every(Duration::from_secs(10)), |_| Step::IgnoreCancel, None);
    let services = start_all(&h.provider).await;
    sleep(Duration::from_secs(1)).await;
    let stopping = Instant::now();
    let mut results = stop_all(&services, Duration::from_secs(5)).await;
    assert_eq!(stopping.elapsed(), Duration::from_secs(5), "stop waits the shutdown timeout, not less, not forever");
    let error = results.pop().expect("one service").expect_err("an abandoned tick is reported");
    let error = error.downcast::<ScheduleError>().expect("a ScheduleError");
    assert_eq!(error, ScheduleError::ShutdownTimedOut { service: "ticker", running: 1, queued: 0 });
    assert!(logs.text().contains("abandoning work still running or queued"), "the abandonment is logged");
}

#[tokio::test]
async fn zero_period_and_zero_concurrency_are_rejected_at_registration() {
    let mut services = ServiceCollection::new();
    let err = services.add_timed_service::<Ticker>(TimedOptions::every(Duration::ZERO)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "timed service `timed_service::Ticker` has a zero period; give `TimedOptions::every` a period greater than zero"
    );
    let options = TimedOptions::every(Duration::from_secs(1)).max_concurrent_ticks(0).name("ticker");
    let err = services.add_timed_service::<Ticker>(options).unwrap_err();
    assert_eq!(err.to_string(), "`ticker` allows zero concurrent units of work; allow at least one");
    assert!(services.is_empty(), "nothing was registered");
}

#[tokio::test]
async fn an_unregistered_handler_is_reported_by_build_with_its_name() {
    let mut services = ServiceCollection::new();
    services.add_timed_service::<Ticker>(TimedOptions::every(Duration::from_secs(1))).unwrap();
    let err = services.build().expect_err("the handler is missing");
    assert_eq!(
        err.to_string(),
        "the service collection has 1 problem:\n  - no service registered for `timed_service::Ticker` (required by \
         `di_hosting::work::timed::TimedService<timed_service::Ticker>`); register it with `services.add_scoped` \
         before `build()`"
    );
    // Without validation at build, start still finds it.
    let provider = services.build_with(di_core::ProviderOptions::default().validate_on_build(false)).unwrap();
    let service = provider.get::<dyn di_hosting::HostedService>().unwrap();
    let err = service.start(CancellationToken::new()).await.unwrap_err();
    assert_eq!(
        err.downcast::<ScheduleError>().unwrap().to_string(),
        "no service registered for `timed_service::Ticker`, the handler of `timed_service::Ticker`; register it \
         (usually scoped) before `build()`"
    );
}

/// The reference's `IScopedProcessingService`, as a trait object.
trait ScopedProcessingService: TimedTask {}

struct Processor(Arc<AtomicUsize>);

#[async_trait]
impl TimedTask for Processor {
    async fn tick(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl ScopedProcessingService for Processor {}

#[tokio::test(start_paused = true)]
async fn a_dyn_scoped_processing_service_can_be_the_handler() {
    let count = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    let shared = Arc::clone(&count);
    services.add_scoped::<dyn ScopedProcessingService>(move |_| Ok(Arc::new(Processor(Arc::clone(&shared)))));
    services.add_timed_service::<dyn ScopedProcessingService>(TimedOptions::every(Duration::from_secs(1))).unwrap();
    let provider = services.build().unwrap();
    let hosted = start_all(&provider).await;
    sleep(Duration::from_millis(2500)).await;
    stop_all(&hosted, Duration::from_secs(1)).await;
    assert_eq!(count.load(Ordering::SeqCst), 3, "ticks at 0, 1 and 2 s");
}
