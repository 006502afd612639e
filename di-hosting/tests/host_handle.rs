//! `HostHandle`, `stop_within`, `Host::status()` and the error texts (issue 11): stopping and
//! observing a host while `run` is awaited, a stop bounded by the caller, each service's state,
//! and messages that print every cause once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Behaviour, Log, Recorder, host_with};
use di_core::{BoxError, Dependencies, FromProvider, Resolver};
use di_hosting::{
    BackgroundService, BackgroundWorkExt, CancellationToken, FailurePolicy, Host, HostError,
    HostingServiceCollectionExt, Phase, ServiceState, TimedOptions, TimedTask,
};
use tokio::time::{Instant, sleep, timeout};

const BOUND: Duration = Duration::from_secs(600);

#[tokio::test(start_paused = true)]
async fn a_handle_stops_a_running_host_and_every_caller_gets_the_same_report() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("broken", &log).on(Phase::Stop, Behaviour::Fail)], |_| {});
    let handle = host.handle();
    let watcher = handle.clone();
    let run = tokio::spawn(host.run_until(std::future::pending::<()>()));
    sleep(Duration::from_secs(1)).await;
    assert_eq!(handle.status().service("broken").map(|s| s.state.clone()), Some(ServiceState::Running));
    let (stopped, observed) =
        timeout(BOUND, async { tokio::join!(handle.stop(), watcher.stopped()) }).await.expect("bounded");
    let ran = run.await.expect("the run task ends").expect("runs");
    for report in [&stopped, &observed, &ran] {
        let failures: Vec<_> = report.failures().iter().map(|f| f.service()).collect();
        assert_eq!(failures, ["broken"], "the same failure for every caller: {report}");
    }
    assert!(handle.lifetime().stopped().is_cancelled(), "stopped fired");
}

#[tokio::test(start_paused = true)]
async fn stop_within_abandons_what_still_runs_at_the_callers_bound() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("stuck", &log).on(Phase::Stop, Behaviour::Hang)], |o| {
        o.shutdown_timeout = Duration::from_secs(30);
    });
    host.start().await.expect("starts");
    let began = Instant::now();
    let report = timeout(BOUND, host.stop_within(Duration::from_secs(2))).await.expect("bounded");
    assert_eq!(began.elapsed(), Duration::from_secs(2), "the caller's bound, not the 30 s timeout");
    assert_eq!(report.timed_out(), ["stuck"], "named as abandoned");
    let again = timeout(BOUND, host.stop()).await.expect("bounded");
    assert_eq!(again.timed_out(), ["stuck"], "a later stop gets the same report");
}

struct Flaky;

#[async_trait::async_trait]
impl BackgroundService for Flaky {
    async fn execute(&self, _stopping: CancellationToken) -> anyhow::Result<()> {
        sleep(Duration::from_secs(1)).await;
        Err(anyhow::anyhow!("connection reset").context("polling the feed"))
    }
    fn name(&self) -> &'static str {
        "app::Feed"
    }
}

fn flaky_host(policy: FailurePolicy) -> Host {
    Host::builder()
        .configure_options(|o| {
            o.suppress_status_messages = true;
            o.background_service_failure = policy;
        })
        .configure_services(|s| {
            s.add_background_service_with(|_| Ok(Flaky));
        })
        .build()
        .expect("builds")
}

#[tokio::test(start_paused = true)]
async fn a_failure_under_ignore_is_visible_in_the_status_with_its_causes() {
    let host = flaky_host(FailurePolicy::Ignore);
    host.start().await.expect("starts");
    assert_eq!(host.status().service("app::Feed").map(|s| s.state.clone()), Some(ServiceState::Running));
    sleep(Duration::from_secs(2)).await;
    let state = host.status().service("app::Feed").map(|s| s.state.clone());
    assert_eq!(
        state,
        Some(ServiceState::Failed {
            error: "hosted service `app::Feed` failed in `execute`: polling the feed: connection reset".to_owned()
        }),
        "the ignored failure shows, with its causes"
    );
    assert!(timeout(BOUND, host.stop()).await.expect("bounded").is_success(), "Ignore keeps the exit code 0");
    assert!(
        matches!(host.status().services[0].state, ServiceState::Failed { .. }),
        "stopping does not hide the failure"
    );
}

#[tokio::test(start_paused = true)]
async fn a_restarting_service_shows_its_attempt() {
    let policy = FailurePolicy::Restart { backoff: Duration::from_secs(10), max_restarts: 3 };
    let host = flaky_host(policy);
    host.start().await.expect("starts");
    sleep(Duration::from_secs(2)).await;
    assert_eq!(host.status().services[0].state, ServiceState::Restarting { attempt: 1 }, "in its first backoff");
    sleep(Duration::from_secs(10)).await;
    assert_eq!(host.status().services[0].state, ServiceState::Running, "running again after the backoff");
    timeout(BOUND, host.stop()).await.expect("bounded");
}

#[tokio::test(start_paused = true)]
async fn hosted_services_go_from_created_to_stopped_in_registration_order() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log),
            Recorder::new("b", &log).on(Phase::Start, Behaviour::Take(Duration::from_secs(1))),
        ],
        |_| {},
    );
    let handle = host.handle();
    let starting = tokio::spawn(async move { host.run_until(std::future::pending::<()>()).await });
    sleep(Duration::from_millis(500)).await;
    let states: Vec<_> = handle.status().services.iter().map(|s| (s.name, s.state.clone())).collect();
    assert_eq!(states, [("a", ServiceState::Running), ("b", ServiceState::Starting)], "b is still starting");
    handle.stop().await;
    let states: Vec<_> = handle.status().services.iter().map(|s| s.state.clone()).collect();
    assert_eq!(states, [ServiceState::Stopped, ServiceState::Stopped]);
    starting.await.expect("the run task ends").expect("runs");
}

/// A background service registered twice with different behaviour: the two registrations share
/// a type and a name.
struct Feed {
    fails: bool,
}

#[async_trait::async_trait]
impl BackgroundService for Feed {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        sleep(Duration::from_secs(1)).await;
        anyhow::ensure!(!self.fails, "connection reset");
        stopping.cancelled().await;
        Ok(())
    }
}

struct Tick;

#[async_trait::async_trait]
impl TimedTask for Tick {
    async fn tick(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn two_registrations_of_one_type_have_their_own_status_entries() {
    let host = Host::builder()
        .configure_options(|o| {
            o.suppress_status_messages = true;
            o.background_service_failure = FailurePolicy::Ignore;
        })
        .configure_services(|s| {
            s.add_background_service_with(|_| Ok(Feed { fails: true }));
            s.add_background_service_with(|_| Ok(Feed { fails: false }));
            s.add_scoped::<Tick>(|_| Ok(Arc::new(Tick)));
            s.add_timed_service::<Tick>(TimedOptions::every(Duration::from_secs(1))).unwrap();
            s.add_timed_service::<Tick>(TimedOptions::every(Duration::from_millis(500))).unwrap();
        })
        .build()
        .expect("builds");
    host.start().await.expect("starts");
    sleep(Duration::from_millis(1750)).await;

    let status = host.status();
    let names: Vec<_> = status.services.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        ["host_handle::Feed", "host_handle::Feed", "host_handle::Tick", "host_handle::Tick"],
        "one entry per registration, in registration order"
    );
    let failed = ServiceState::Failed {
        error: "hosted service `host_handle::Feed` failed in `execute`: connection reset".to_owned(),
    };
    assert_eq!(status.services[0].state, failed, "the first registration failed");
    assert_eq!(status.services[1].state, ServiceState::Running, "the second still runs");
    assert_eq!(status.service("host_handle::Feed").map(|s| &s.state), Some(&failed), "by name: the first");
    let ticks: Vec<_> = status.services[2..].iter().map(|s| s.metrics.as_ref().map(|m| m.completed())).collect();
    assert_eq!(ticks, [Some(2), Some(4)], "each timed service counts its own ticks (0, 1 s; 0, 0.5, 1, 1.5 s)");

    assert!(timeout(BOUND, host.stop()).await.expect("bounded").is_success(), "Ignore keeps the exit code 0");
    let states: Vec<_> = host.status().services.iter().map(|s| s.state.clone()).collect();
    assert_eq!(
        states,
        [failed, ServiceState::Stopped, ServiceState::Stopped, ServiceState::Stopped],
        "stopping one registration does not touch the other's entry"
    );
}

struct Missing;
struct Orphan;

impl FromProvider for Orphan {
    fn from_provider(sp: &Resolver<'_>) -> Result<Self, BoxError> {
        sp.get::<Missing>()?;
        Ok(Self)
    }
    fn dependencies(deps: &mut Dependencies) {
        deps.add::<Arc<Missing>>();
    }
}

#[async_trait::async_trait]
impl BackgroundService for Orphan {
    async fn execute(&self, _stopping: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

fn build_error() -> HostError {
    Host::builder()
        .configure_services(|s| {
            s.add_background_service::<Orphan>();
        })
        .build()
        .expect_err("a missing dependency")
}

#[test]
fn the_three_recommended_main_signatures_print_readable_text_with_each_cause_once() {
    let err = build_error();
    let display = err.to_string();
    assert!(display.starts_with("could not build the host's service provider: the service collection has 1 problem"));
    assert!(display.contains("no service registered for"), "the cause is in the message: {display}");
    // `main() -> Result<_, HostError>` prints `Error: {err:?}`.
    let debug = format!("{err:?}");
    assert_eq!(debug, display, "Debug is the readable text, not `Build(Invalid {{ .. }})`");
    // `main() -> Result<_, Box<dyn Error>>` prints the box's Debug.
    let boxed: Box<dyn std::error::Error> = Box::new(build_error());
    assert_eq!(format!("{boxed:?}"), display);
    // `main() -> anyhow::Result<_>` prints the message and the source chain.
    let any = anyhow::Error::from(build_error());
    let text = format!("{any:?}");
    assert_eq!(text.matches("no service registered for").count(), 1, "the cause printed once: {text}");
    assert!(!text.contains("Invalid {"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn the_stop_report_names_each_failures_cause() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("broken", &log).on(Phase::Stop, Behaviour::Fail)], |_| {});
    let report = host.run_until(async {}).await.expect("runs");
    assert_eq!(report.to_string(), "1 failure(s): hosted service `broken` failed in `stop`: broken failed in stop");
}
