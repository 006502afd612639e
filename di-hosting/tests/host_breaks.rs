//! Regression tests for the breaks of issue 11 in the host core, each bounded in time: a hung
//! disposal, stop during start, concurrent stops, a stop requested during start-up, start racing
//! stop, the lifecycle order under `stop_application`, the start token, failures during
//! start-up, a dropped start, and a disposed or dropped host.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Behaviour, Log, Recorder, host_with, record_lifetime};
use di_core::ServiceCollection;
use di_hosting::{
    ApplicationLifetime, BackgroundService, CancellationToken, Host, HostError, HostedLifecycleService, HostedService,
    HostingServiceCollectionExt, Phase,
};
use tokio::time::{Instant, sleep, timeout};

/// Generous bound for tests on paused time (it only advances when everything is idle).
const BOUND: Duration = Duration::from_secs(600);

struct Resource;

/// Break 1: an async dispose hook that never returns no longer keeps `run` waiting forever.
#[tokio::test(start_paused = true)]
async fn a_dispose_hook_that_never_returns_is_abandoned_at_the_shutdown_timeout() {
    let host = Host::builder()
        .shutdown_timeout(Duration::from_secs(2))
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(|s| {
            s.add_singleton::<Resource>(|_| Ok(Arc::new(Resource)))
                .on_dispose_async(|_| std::future::pending::<Result<(), di_core::BoxError>>());
        })
        .build()
        .expect("builds");
    host.provider().get::<Resource>().expect("create the singleton");
    let began = Instant::now();
    let report = timeout(BOUND, host.run_until(async {})).await.expect("run returns").expect("runs");
    assert_eq!(began.elapsed(), Duration::from_secs(2), "disposal runs within the shutdown timeout");
    assert_eq!(report.exit_code(), 1, "an unfinished disposal is not a clean stop: {report}");
    assert!(report.to_string().contains("disposal did not finish"), "the report says so: {report}");
    assert_eq!(
        report.disposal_unfinished(),
        Some(&[std::any::type_name::<Resource>()][..]),
        "the report names the service whose hook did not finish"
    );
}

/// Break 2: `stop()` during `start()` waits for start-up to unwind and stops what started
/// before `stopped` fires.
#[tokio::test(start_paused = true)]
async fn stop_during_start_stops_what_started_before_stopped_fires() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log),
            Recorder::new("b", &log).on(Phase::Start, Behaviour::Take(Duration::from_secs(1))),
        ],
        |_| {},
    );
    record_lifetime(host.lifetime(), &log);
    let stop = async {
        sleep(Duration::from_millis(100)).await;
        host.stop().await
    };
    let (started, report) = timeout(BOUND, async { tokio::join!(host.start(), stop) }).await.expect("bounded");
    started.expect("b finishes its start within the shutdown timeout, so start-up finishes");
    assert!(report.is_success(), "{report}");
    let events = log.events();
    let at = |e: &str| events.iter().position(|x| x == e).unwrap_or_else(|| panic!("{e} missing: {events:?}"));
    assert!(at("b:start:end") < at("b:stop"), "b is stopped after its start returned: {events:?}");
    assert!(at("a:stop") < at("app:stopped") && at("b:stop") < at("app:stopped"), "then stopped: {events:?}");
    assert_eq!(events.last().map(String::as_str), Some("app:stopped"), "nothing after stopped: {events:?}");
}

/// Break 3: a second concurrent `stop()` waits for the same shutdown and gets the same report.
#[tokio::test(start_paused = true)]
async fn concurrent_stops_wait_for_one_shutdown_and_get_the_same_report() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("broken", &log).on(Phase::Stop, Behaviour::Fail),
            Recorder::new("slow", &log).on(Phase::Stop, Behaviour::Take(Duration::from_secs(1))),
        ],
        |_| {},
    );
    host.start().await.expect("starts");
    let began = Instant::now();
    let timed = || async {
        let report = host.stop().await;
        (report, began.elapsed())
    };
    let ((first, t1), (second, t2)) = timeout(BOUND, async { tokio::join!(timed(), timed()) }).await.expect("bounded");
    assert_eq!((t1, t2), (Duration::from_secs(1), Duration::from_secs(1)), "both waited for the whole shutdown");
    for report in [&first, &second] {
        let failures: Vec<_> = report.failures().iter().map(|f| f.service()).collect();
        assert_eq!(failures, ["broken"], "both see the failure: {report}");
    }
    let (third, t3) = timed().await;
    assert_eq!((third.failures().len(), t3), (1, Duration::from_secs(1)), "a later stop returns the same report");
    assert_eq!(log.of_phase(Phase::Stop), ["slow:stop", "slow:stop:end", "broken:stop"], "one shutdown ran");
}

struct StopAtOnce {
    lifetime: Arc<ApplicationLifetime>,
}

#[async_trait::async_trait]
impl BackgroundService for StopAtOnce {
    async fn execute(&self, _stopping: CancellationToken) -> anyhow::Result<()> {
        self.lifetime.stop_application();
        Ok(())
    }
}

/// Break 4: a background service that stops the application at once, while a later hosted
/// service is starting, does not make `run` fail with `StartCancelled`: nothing was abandoned.
#[tokio::test(start_paused = true)]
async fn a_stop_requested_during_start_up_lets_start_up_finish_when_nothing_is_abandoned() {
    let log = Log::default();
    let later = Recorder::new("later", &log).on(Phase::Start, Behaviour::Take(Duration::from_millis(100)));
    let host = Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(|s| {
            s.add_background_service_with(|sp| Ok(StopAtOnce { lifetime: sp.get()? }));
            s.add_hosted_service_with(move |_| Ok(later.clone()));
        })
        .build()
        .expect("builds");
    let result = timeout(BOUND, host.run_until(std::future::pending::<()>())).await.expect("bounded");
    let report = result.expect("run returns normally, as .NET's Run does");
    assert!(report.is_success(), "{report}");
    assert_eq!(
        log.matching("later:"),
        [
            "later:starting",
            "later:start",
            "later:start:end",
            "later:started",
            "later:stopping",
            "later:stop",
            "later:stopped"
        ],
        "later started fully, then stopped"
    );
}

/// A hosted service whose `started` phase yields once, so a stop can land mid-start.
struct Yielding {
    log: Log,
}

#[async_trait::async_trait]
impl HostedService for Yielding {
    async fn start(&self, _: CancellationToken) -> anyhow::Result<()> {
        self.log.push("y:start");
        Ok(())
    }
    async fn stop(&self, _: CancellationToken) -> anyhow::Result<()> {
        self.log.push("y:stop");
        Ok(())
    }
    fn lifecycle(&self) -> Option<&dyn HostedLifecycleService> {
        Some(self)
    }
}

#[async_trait::async_trait]
impl HostedLifecycleService for Yielding {
    async fn started(&self, _: CancellationToken) -> anyhow::Result<()> {
        tokio::task::yield_now().await;
        Ok(())
    }
}

/// Break 5: `start()` racing `stop()` ends stopped: what started is stopped before `stopped`
/// fires, nothing happens after it, and the host cannot start again.
#[tokio::test]
async fn start_racing_stop_ends_with_a_stopped_host() {
    let log = Log::default();
    let y = log.clone();
    let host = Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(move |s| {
            s.add_hosted_service_with(move |_| Ok(Yielding { log: y.clone() }));
        })
        .build()
        .expect("builds");
    record_lifetime(host.lifetime(), &log);
    let (_, report) =
        timeout(Duration::from_secs(10), async { tokio::join!(host.start(), host.stop()) }).await.expect("bounded");
    assert!(report.is_success(), "{report}");
    assert!(matches!(host.start().await, Err(HostError::AlreadyStarted)), "a stopped host stays stopped");
    let again = timeout(Duration::from_secs(10), host.stop()).await.expect("bounded");
    assert!(again.is_success(), "{again}");
    let events = log.events();
    assert_eq!(events.iter().filter(|e| *e == "y:stop").count(), 1, "stopped exactly once: {events:?}");
    assert_eq!(events.last().map(String::as_str), Some("app:stopped"), "stopped fires last: {events:?}");
}

/// Break 7: when the stop is requested from another thread, the `stopping` callbacks finish
/// before any service stops, and `stopped` fires after them.
#[tokio::test]
async fn stopping_callbacks_finish_before_services_stop_when_the_stop_comes_from_elsewhere() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("a", &log)], |_| {});
    let l = log.clone();
    host.lifetime().on_stopping(move || {
        l.push("callback:begin");
        std::thread::sleep(Duration::from_millis(300));
        l.push("callback:end");
        Ok(())
    });
    record_lifetime(host.lifetime(), &log);
    let lifetime = host.lifetime().clone();
    let requester = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        lifetime.stop_application();
    });
    let report = timeout(Duration::from_secs(10), host.run_until(std::future::pending::<()>()))
        .await
        .expect("bounded")
        .expect("runs");
    requester.join().expect("the requester thread ends");
    assert!(report.is_success(), "{report}");
    let events = log.events();
    let at = |e: &str| events.iter().position(|x| x == e).unwrap_or_else(|| panic!("{e} missing: {events:?}"));
    assert!(at("callback:end") < at("a:stop"), "stopping callbacks, then stop: {events:?}");
    assert!(at("callback:end") < at("app:stopped"), "then stopped: {events:?}");
}

/// A hosted service that asks the application to stop from its own `start`, then looks at its
/// start token.
struct SelfStopper {
    lifetime: Arc<ApplicationLifetime>,
    saw_cancelled: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl HostedService for SelfStopper {
    async fn start(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.lifetime.stop_application();
        self.saw_cancelled.store(cancel.is_cancelled(), Ordering::SeqCst);
        Ok(())
    }
    async fn stop(&self, _: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Break 8: the token given to `start` is linked to the application's stopping.
#[tokio::test(start_paused = true)]
async fn the_start_token_is_cancelled_by_a_stop_request() {
    let saw = Arc::new(AtomicBool::new(false));
    let flag = saw.clone();
    let host = Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(move |s| {
            s.add_hosted_service_with(move |sp| Ok(SelfStopper { lifetime: sp.get()?, saw_cancelled: flag.clone() }));
        })
        .build()
        .expect("builds");
    let result = timeout(BOUND, host.run_until(std::future::pending::<()>())).await.expect("bounded");
    assert!(saw.load(Ordering::SeqCst), "the start token was cancelled as soon as the stop was requested");
    let report = result.expect("start-up finished: the service returned");
    assert!(report.is_success(), "{report}");
}

struct FailAtOnce;

#[async_trait::async_trait]
impl BackgroundService for FailAtOnce {
    async fn execute(&self, _stopping: CancellationToken) -> anyhow::Result<()> {
        anyhow::bail!("disk full")
    }
    fn name(&self) -> &'static str {
        "app::Indexer"
    }
}

/// Break 9: a background failure (StopHost) while start-up still runs is reported, with its cause.
#[tokio::test(start_paused = true)]
async fn a_background_failure_during_start_up_is_reported_with_its_cause() {
    let log = Log::default();
    let later = Recorder::new("later", &log).on(Phase::Start, Behaviour::Take(Duration::from_millis(100)));
    let host = Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(|s| {
            s.add_background_service_with(|_| Ok(FailAtOnce));
            s.add_hosted_service_with(move |_| Ok(later.clone()));
        })
        .build()
        .expect("builds");
    let result = timeout(BOUND, host.run_until(std::future::pending::<()>())).await.expect("bounded");
    let report = result.expect("start-up finished: nothing was abandoned");
    let failures: Vec<_> = report.failures().iter().map(|f| (f.service(), f.phase())).collect();
    assert_eq!(failures, [("app::Indexer", Phase::Execute)], "the failure is in the report: {report}");
    assert_eq!(report.exit_code(), 1);
    assert!(report.to_string().contains("disk full"), "the report names the cause: {report}");
}

/// Break 10: dropping a `start()` future does not leave the host half-started: start-up
/// finishes on its own task and a later `stop()` stops every service that started.
#[tokio::test(start_paused = true)]
async fn a_dropped_start_future_leaves_a_host_that_stops_what_started() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log),
            Recorder::new("b", &log).on(Phase::Start, Behaviour::Take(Duration::from_secs(1))),
        ],
        |_| {},
    );
    let dropped = timeout(Duration::from_millis(100), host.start()).await;
    assert!(dropped.is_err(), "the caller gave up waiting");
    let report = timeout(BOUND, host.stop()).await.expect("bounded");
    assert!(report.is_success(), "{report}");
    assert_eq!(log.of_phase(Phase::Stop), ["b:stop", "a:stop"], "both services started and were stopped");
}

/// Break 10, where the task start-up runs on never finishes (its runtime shut
/// down): the start-up ends as failed, so a later `stop()` returns instead of waiting for it.
#[test]
fn a_start_up_dropped_with_its_runtime_does_not_leave_stop_waiting() {
    let runtime = || tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log),
            Recorder::new("b", &log).on(Phase::Start, Behaviour::Take(Duration::from_secs(10))),
        ],
        |_| {},
    );
    let first = runtime();
    let gave_up = first.block_on(async { timeout(Duration::from_millis(10), host.start()).await });
    assert!(gave_up.is_err(), "the caller gave up waiting; start-up went on in a task");
    drop(first); // and that task with it
    let report =
        runtime().block_on(async { timeout(Duration::from_secs(10), host.stop()).await }).expect("stop returns");
    assert!(report.is_success(), "{report}");
    let again = runtime().block_on(host.start());
    assert!(matches!(again, Err(HostError::AlreadyStarted)), "{again:?}");
}

#[derive(Clone)]
struct Loop {
    log: Log,
    ignore_cancellation: bool,
}

#[async_trait::async_trait]
impl BackgroundService for Loop {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        if self.ignore_cancellation {
            std::future::pending::<()>().await;
        }
        stopping.cancelled().await;
        self.log.push("loop:cancelled");
        Ok(())
    }
}

fn looping_host(log: &Log) -> Host {
    let service = Loop { log: log.clone(), ignore_cancellation: false };
    Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(move |s| {
            s.add_background_service_with(move |_| Ok(service.clone()));
        })
        .build()
        .expect("builds")
}

/// Break 11: disposing a started host cancels its background services.
#[tokio::test(start_paused = true)]
async fn disposing_a_started_host_cancels_its_background_services() {
    let log = Log::default();
    let host = looping_host(&log);
    host.start().await.expect("starts");
    timeout(BOUND, host.dispose()).await.expect("bounded").expect("disposes");
    tokio::task::yield_now().await;
    assert_eq!(log.events(), ["loop:cancelled"], "the loop saw its token cancelled");
}

/// Break 11: dropping a started host cancels its background services.
#[tokio::test(start_paused = true)]
async fn dropping_a_started_host_cancels_its_background_services() {
    let log = Log::default();
    let host = looping_host(&log);
    host.start().await.expect("starts");
    drop(host);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(log.events(), ["loop:cancelled"], "the loop saw its token cancelled");
}

/// Break 11: a background service's own `stop`, outside a host, honours its deadline token.
#[tokio::test(start_paused = true)]
async fn a_background_services_stop_outside_a_host_honours_its_deadline_token() {
    let log = Log::default();
    let stubborn = Loop { log: log.clone(), ignore_cancellation: true };
    let mut services = ServiceCollection::new();
    services.add_background_service_with(move |_| Ok(stubborn.clone()));
    let provider = services.build().expect("builds");
    let hosted = provider.resolve::<Vec<Arc<dyn HostedService>>>().expect("resolves");
    hosted[0].start(CancellationToken::new()).await.expect("starts");
    let deadline = CancellationToken::new();
    let fire = deadline.clone();
    tokio::spawn(async move {
        sleep(Duration::from_secs(2)).await;
        fire.cancel();
    });
    let began = Instant::now();
    let stopped = timeout(BOUND, hosted[0].stop(deadline)).await.expect("stop returns at its deadline");
    assert_eq!(began.elapsed(), Duration::from_secs(2), "when the token fired");
    let err = stopped.expect_err("it says the work did not stop");
    assert!(err.to_string().contains("did not return from `execute`"), "{err}");
}
