//! Host start and stop: callback order (serial and concurrent), start in registration order,
//! stop in reverse, lifetime events, stop before start, failing start and failing stop
//! (reference rows H1-H15, H22, H57-H63, H75-H84 of section 2).

mod common;

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Behaviour, Log, Recorder, host_with, record_lifetime, strings};
use di_core::{BoxError, FromProvider, Lifetime, Resolver, Source};
use di_hosting::{
    ApplicationLifetime, CancellationToken, Host, HostError, HostedService, HostingServiceCollectionExt, Phase,
};
use tokio::time::timeout;

const SERIAL_ORDER: &[&str] = &[
    "a:starting",
    "b:starting",
    "a:start",
    "b:start",
    "a:started",
    "b:started",
    "app:started",
    "b:stopping",
    "a:stopping",
    "app:stopping",
    "b:stop",
    "a:stop",
    "b:stopped",
    "a:stopped",
    "app:stopped",
];

async fn callback_order(concurrent: bool) {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("a", &log), Recorder::new("b", &log)], |o| {
        o.services_start_concurrently = concurrent;
        o.services_stop_concurrently = concurrent;
    });
    record_lifetime(host.lifetime(), &log);
    host.start().await.expect("start succeeds");
    let report = host.stop().await;
    assert!(report.is_success(), "clean stop, got {report}");
    assert_eq!(log.events(), strings(SERIAL_ORDER), "callback order (concurrent: {concurrent})");
}

#[tokio::test]
async fn callback_order_serial() {
    callback_order(false).await;
}

#[tokio::test]
async fn callback_order_concurrent() {
    // Services that finish at their first poll run in the same order when concurrent (H2).
    callback_order(true).await;
}

/// Only the services that opt in to the lifecycle hooks get them, in the documented order; the
/// others' `start` and `stop` keep their place (serial and concurrent).
async fn hooks_only_for_services_that_opt_in(concurrent: bool) {
    let log = Log::default();
    let recorders = vec![Recorder::new("a", &log), Recorder::new("b", &log).without_hooks(), Recorder::new("c", &log)];
    let host = host_with(recorders, |o| {
        o.services_start_concurrently = concurrent;
        o.services_stop_concurrently = concurrent;
    });
    record_lifetime(host.lifetime(), &log);
    timeout(Duration::from_secs(10), host.start()).await.expect("bounded").expect("start succeeds");
    let report = timeout(Duration::from_secs(10), host.stop()).await.expect("bounded");
    assert!(report.is_success(), "clean stop, got {report}");
    let expected = [
        "a:starting",
        "c:starting",
        "a:start",
        "b:start",
        "c:start",
        "a:started",
        "c:started",
        "app:started",
        "c:stopping",
        "a:stopping",
        "app:stopping",
        "c:stop",
        "b:stop",
        "a:stop",
        "c:stopped",
        "a:stopped",
        "app:stopped",
    ];
    assert_eq!(log.events(), strings(&expected), "hooks for a and c only (concurrent: {concurrent})");
}

#[tokio::test]
async fn hooks_only_for_services_that_opt_in_serial() {
    hooks_only_for_services_that_opt_in(false).await;
}

#[tokio::test]
async fn hooks_only_for_services_that_opt_in_concurrent() {
    hooks_only_for_services_that_opt_in(true).await;
}

/// With no service opting in, start and stop are just `start` and `stop`, around the events.
#[tokio::test]
async fn without_hooks_only_start_and_stop_run() {
    let log = Log::default();
    let host =
        host_with(vec![Recorder::new("a", &log).without_hooks(), Recorder::new("b", &log).without_hooks()], |_| {});
    record_lifetime(host.lifetime(), &log);
    timeout(Duration::from_secs(10), host.start()).await.expect("bounded").expect("start succeeds");
    let report = timeout(Duration::from_secs(10), host.stop()).await.expect("bounded");
    assert!(report.is_success(), "clean stop, got {report}");
    let expected = ["a:start", "b:start", "app:started", "app:stopping", "b:stop", "a:stop", "app:stopped"];
    assert_eq!(log.events(), strings(&expected), "no hook phase ran");
}

/// A failing `starting` hook aborts start-up before any `start`, also of services without hooks,
/// and the failure is the one returned.
#[tokio::test]
async fn a_failing_starting_hook_aborts_before_any_start() {
    let log = Log::default();
    let recorders = vec![
        Recorder::new("plain", &log).without_hooks(),
        Recorder::new("hooked", &log).on(Phase::Starting, Behaviour::Fail),
    ];
    let host = host_with(recorders, |_| {});
    let error = timeout(Duration::from_secs(10), host.start()).await.expect("bounded").expect_err("start fails");
    let HostError::Start(failure) = &error else { panic!("expected HostError::Start, got {error:?}") };
    assert_eq!((failure.service(), failure.phase()), ("hooked", Phase::Starting), "the failing hook is reported");
    assert_eq!(log.events(), strings(&["hooked:starting"]), "nothing started");
    assert_eq!(host.status().services[0].state, di_hosting::ServiceState::Created, "plain never started");
}

fn slow(name: &'static str, log: &Log, phase: Phase) -> Recorder {
    Recorder::new(name, log).on(phase, Behaviour::Take(Duration::from_millis(10)))
}

#[tokio::test(start_paused = true)]
async fn start_phases_run_serially_by_default() {
    for phase in [Phase::Starting, Phase::Start, Phase::Started] {
        let log = Log::default();
        let host = host_with(vec![slow("a", &log, phase), slow("b", &log, phase)], |_| {});
        host.start().await.expect("start succeeds");
        let expected = [format!("a:{phase}"), format!("a:{phase}:end"), format!("b:{phase}"), format!("b:{phase}:end")];
        assert_eq!(log.of_phase(phase), expected, "serial {phase}: b waits for a (H5)");
    }
}

#[tokio::test(start_paused = true)]
async fn start_phases_interleave_when_concurrent() {
    for phase in [Phase::Starting, Phase::Start, Phase::Started] {
        let log = Log::default();
        let host = host_with(vec![slow("a", &log, phase), slow("b", &log, phase)], |o| {
            o.services_start_concurrently = true;
        });
        host.start().await.expect("start succeeds");
        let expected = [format!("a:{phase}"), format!("b:{phase}"), format!("a:{phase}:end"), format!("b:{phase}:end")];
        let seen = log.of_phase(phase);
        assert_eq!(seen, expected, "concurrent {phase}: both entered before either finished (H3, H4, H6)");
    }
}

#[tokio::test(start_paused = true)]
async fn stop_phases_run_in_reverse_serially_and_interleave_when_concurrent() {
    for phase in [Phase::Stopping, Phase::Stop, Phase::Stopped] {
        for concurrent in [false, true] {
            let log = Log::default();
            let host = host_with(vec![slow("a", &log, phase), slow("b", &log, phase)], |o| {
                o.services_stop_concurrently = concurrent;
            });
            host.start().await.expect("start succeeds");
            assert!(host.stop().await.is_success(), "clean stop");
            let expected = if concurrent {
                [format!("b:{phase}"), format!("a:{phase}"), format!("b:{phase}:end"), format!("a:{phase}:end")]
            } else {
                [format!("b:{phase}"), format!("b:{phase}:end"), format!("a:{phase}"), format!("a:{phase}:end")]
            };
            let seen = log.of_phase(phase);
            assert_eq!(seen, expected, "{phase} (concurrent: {concurrent}), reverse order (H11-H14)");
        }
    }
}

#[tokio::test]
async fn failing_phase_aborts_start_and_later_phases_do_not_run() {
    for phase in [Phase::Starting, Phase::Start, Phase::Started] {
        let log = Log::default();
        let host = host_with(vec![Recorder::new("a", &log).on(phase, Behaviour::Fail)], |_| {});
        record_lifetime(host.lifetime(), &log);
        let err = host.start().await.expect_err("a failing phase fails start");
        let HostError::Start(failure) = &err else { panic!("expected HostError::Start, got {err:?}") };
        assert_eq!((failure.service(), failure.phase()), ("a", phase), "the failure names service and phase");
        assert_eq!(
            failure.source().map(ToString::to_string).as_deref(),
            Some(format!("a failed in {phase}").as_str()),
            "the original error is the source (H7-H9)"
        );
        let ran: Vec<_> = log.events().into_iter().filter(|e| e.starts_with("a:start")).collect();
        let expected: &[&str] = match phase {
            Phase::Starting => &["a:starting"],
            Phase::Start => &["a:starting", "a:start"],
            _ => &["a:starting", "a:start", "a:started"],
        };
        assert_eq!(ran, strings(expected), "phases after the failing one are skipped ({phase})");
        assert!(log.matching("app:").is_empty(), "no started / stopping event after a failed start (H84)");
        assert!(!host.lifetime().started().is_cancelled(), "started never fires");
    }
}

#[tokio::test]
async fn failing_start_stops_the_services_already_started_and_skips_the_rest() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log),
            Recorder::new("b", &log).on(Phase::Start, Behaviour::Fail),
            Recorder::new("c", &log),
        ],
        |_| {},
    );
    let err = host.start().await.expect_err("b fails");
    assert!(matches!(&err, HostError::Start(f) if f.service() == "b"), "the original failure: {err:?}");
    assert_eq!(log.matching("c:"), ["c:starting"], "c ran `starting` only, never `start` (H63)");
    assert_eq!(
        log.events().into_iter().filter(|e| e.contains(":stop")).collect::<Vec<_>>(),
        strings(&["a:stopping", "a:stop", "a:stopped"]),
        "only the service whose start completed is stopped again"
    );
    assert!(host.stop().await.is_success(), "stop after a failed start does nothing");
}

#[tokio::test]
async fn concurrent_start_failures_are_aggregated() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log).on(Phase::Start, Behaviour::Fail),
            Recorder::new("b", &log).on(Phase::Start, Behaviour::Panic),
        ],
        |o| o.services_start_concurrently = true,
    );
    let err = host.start().await.expect_err("both fail");
    let HostError::StartMany { failures } = &err else { panic!("expected StartMany, got {err:?}") };
    let names: Vec<_> = failures.iter().map(|f| (f.service(), f.is_panic())).collect();
    assert_eq!(names, [("a", false), ("b", true)], "every failure, in registration order");
    assert_eq!(
        err.to_string(),
        "2 hosted services failed to start: hosted service `a` failed in `start`: a failed in start; hosted service \
         `b` panicked in `start` with message \"b panicked in start\"",
        "each failure with its cause (issue 11)"
    );
    assert_eq!(failures[1].panic_message(), Some("b panicked in start"), "the panic message is kept");
}

#[tokio::test]
async fn failing_stop_phases_are_all_collected_and_every_service_is_stopped() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log).on(Phase::Stopping, Behaviour::Fail),
            Recorder::new("b", &log).on(Phase::Stop, Behaviour::Fail),
            Recorder::new("c", &log).on(Phase::Stopped, Behaviour::Panic),
        ],
        |_| {},
    );
    host.start().await.expect("start succeeds");
    let report = host.stop().await;
    let failures: Vec<_> = report.failures().iter().map(|f| (f.service(), f.phase())).collect();
    assert_eq!(failures, [("a", Phase::Stopping), ("b", Phase::Stop), ("c", Phase::Stopped)], "phase order (H15)");
    let stops = [Phase::Stopping, Phase::Stop, Phase::Stopped].map(|p| log.of_phase(p).len());
    assert_eq!(stops, [3, 3, 3], "3 services x 3 stop phases all ran");
    assert_eq!(report.exit_code(), 1, "failures make the exit code non-zero");
    assert!(host.lifetime().stopped().is_cancelled(), "stopped still fires");
}

#[tokio::test]
async fn stop_before_start_calls_no_service_but_fires_the_lifetime_events() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("a", &log)], |_| {});
    record_lifetime(host.lifetime(), &log);
    let report = host.stop().await;
    assert!(report.is_success(), "stopping a host that never started is fine (H61)");
    assert_eq!(log.events(), strings(&["app:stopping", "app:stopped"]), "no hosted callback (H22, H59)");
    assert!(matches!(host.start().await, Err(HostError::AlreadyStarted)), "a stopped host cannot start");
}

#[tokio::test]
async fn stop_application_alone_does_not_stop_hosted_services() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("a", &log)], |_| {});
    host.start().await.expect("start succeeds");
    host.lifetime().stop_application();
    assert!(log.of_phase(Phase::Stop).is_empty(), "stop_application only fires the event (H79)");
    assert!(host.stop().await.is_success(), "stop still works");
    assert!(host.stop().await.is_success(), "a second stop does nothing");
    assert_eq!(log.of_phase(Phase::Stop), ["a:stop"], "stop ran exactly once (H82)");
}

#[tokio::test]
async fn start_twice_is_an_error() {
    let host = host_with(vec![], |_| {});
    host.start().await.expect("first start");
    let err = host.start().await.expect_err("second start");
    assert_eq!(err.to_string(), "the host was already started; call `start` once");
}

struct Counted {
    lifetime: Arc<ApplicationLifetime>,
    starts: Arc<AtomicUsize>,
}

impl FromProvider for Counted {
    fn from_provider(sp: &Resolver<'_>) -> Result<Self, BoxError> {
        Ok(Self { lifetime: sp.get()?, starts: sp.get()? })
    }
    fn dependencies(deps: &mut di_core::Dependencies) {
        deps.add::<Arc<ApplicationLifetime>>().add::<Arc<AtomicUsize>>();
    }
}

#[async_trait::async_trait]
impl HostedService for Counted {
    async fn start(&self, _: CancellationToken) -> anyhow::Result<()> {
        assert!(!self.lifetime.started().is_cancelled(), "started fires after every start");
        self.starts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn stop(&self, _: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_same_type_added_twice_starts_once_and_gets_its_dependencies_injected() {
    let starts = Arc::new(AtomicUsize::new(0));
    let host = Host::builder()
        .configure_services(|s| {
            s.add(Lifetime::Singleton, Source::<AtomicUsize>::instance(starts.clone()));
            s.add_hosted_service::<Counted>();
            s.add_hosted_service::<Counted>();
        })
        .build()
        .expect("builds: ApplicationLifetime is registered by the host (H80)");
    assert_eq!(
        host.provider().resolve::<Vec<Arc<dyn HostedService>>>().expect("resolves").len(),
        1,
        "registered once (H1)"
    );
    host.start().await.expect("start succeeds");
    assert_eq!(starts.load(Ordering::SeqCst), 1, "started once (H1, H58)");
}

#[tokio::test]
async fn lifetime_events_are_ordered_and_stopped_fires_before_run_until_returns() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("a", &log)], |_| {});
    let lifetime = host.lifetime().clone();
    record_lifetime(&lifetime, &log);
    let report = host.run_until(async {}).await.expect("runs");
    assert!(report.is_success(), "clean run");
    let app: Vec<_> = log.matching("app:");
    assert_eq!(app, strings(&["app:started", "app:stopping", "app:stopped"]), "event order (H75, H77)");
    assert!(lifetime.stopped().is_cancelled(), "stopped fired before run_until returned");
}

#[tokio::test]
async fn a_failing_or_panicking_lifetime_callback_never_stops_the_others() {
    let log = Log::default();
    let host = host_with(vec![], |_| {});
    let lifetime = host.lifetime().clone();
    lifetime.on_stopping(|| anyhow::bail!("first callback fails"));
    lifetime.on_stopping(|| panic!("second callback panics"));
    record_lifetime(&lifetime, &log);
    let report = host.run_until(async {}).await.expect("runs");
    assert!(report.is_success(), "callback failures are logged, not reported");
    assert_eq!(log.matching("app:"), strings(&["app:started", "app:stopping", "app:stopped"]), "all still ran (H78)");
}

#[tokio::test]
async fn the_container_is_disposed_by_run_not_by_stop() {
    let disposed = Arc::new(AtomicUsize::new(0));
    let counter = disposed.clone();
    let host = Host::builder()
        .configure_services(move |s| {
            s.add_singleton::<String>(|_| Ok(Arc::new("resource".to_owned()))).on_dispose(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        })
        .build()
        .expect("builds");
    host.provider().get::<String>().expect("create the singleton");
    host.start().await.expect("starts");
    let _ = host.stop().await;
    assert_eq!(disposed.load(Ordering::SeqCst), 0, "stop does not dispose (H76)");
    host.dispose().await.expect("disposes");
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "dispose does");
}

#[tokio::test]
async fn a_hosted_service_that_cannot_be_built_fails_start_without_panicking() {
    let host = Host::builder()
        .configure_services(|s| {
            s.add_hosted_service_with::<Recorder, _>(|_| Err("missing configuration".into()));
        })
        .build()
        .expect("builds: factories run at start");
    let err = host.start().await.expect_err("the factory fails");
    assert!(matches!(err, HostError::Resolve(_)), "a resolve error, got {err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("could not resolve the hosted services (check their registrations): ")
            && text.ends_with(": missing configuration"),
        "the message ends with the cause (issue 11): {text}"
    );
}

#[test]
fn host_types_are_send_and_sync_and_their_futures_are_send() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Host>();
    send_sync::<di_hosting::HostBuilder>();
    send_sync::<HostError>();
    send_sync::<di_hosting::StopReport>();
    send_sync::<di_hosting::ServiceFailure>();
    send_sync::<ApplicationLifetime>();
    send_sync::<di_hosting::HostOptions>();
    let host = Host::builder().build().expect("builds");
    send(&host.start());
    send(&host.stop());
    send(&Host::builder().build().expect("builds").run_until(async {}));
    send(&host.run());
}
