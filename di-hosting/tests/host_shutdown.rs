//! Shutdown and startup timeouts on paused time: services that ignore cancellation are
//! abandoned exactly at the timeout and named in the report (reference rows H16-H19, H24,
//! H46-H51, H64-H66, H72-H74).

mod common;

use std::time::Duration;

use common::{Behaviour, Log, Recorder, host_with};
use di_hosting::{FailurePolicy, HostError, HostOptions, Phase};
use tokio::time::{Instant, timeout};

#[test]
fn default_options() {
    let options = HostOptions::default();
    assert_eq!(options.shutdown_timeout, Duration::from_secs(5), "5 s, as in the original documents (H46)");
    assert_eq!(options.startup_timeout, None, "no startup timeout");
    assert!(!options.services_start_concurrently && !options.services_stop_concurrently, "serial by default");
    assert_eq!(options.background_service_failure, FailurePolicy::StopHost, "StopHost by default");
    assert!(!options.suppress_status_messages, "status messages on");
}

#[tokio::test(start_paused = true)]
async fn stop_returns_after_the_default_timeout_when_a_service_ignores_cancellation() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("stuck", &log).on(Phase::Stop, Behaviour::Hang)], |_| {});
    host.start().await.expect("starts");
    let began = Instant::now();
    let report = host.stop().await;
    assert_eq!(began.elapsed(), Duration::from_secs(5), "the 5 s default, not less, not forever (H74)");
    assert_eq!(report.timed_out(), ["stuck"], "the abandoned service is named");
    assert_eq!(report.exit_code(), 1, "an abandoned service makes the exit code non-zero");
    assert!(host.lifetime().stopped().is_cancelled(), "stopped still fires");
}

#[tokio::test(start_paused = true)]
async fn the_shutdown_timeout_is_configurable_and_bounds_all_stop_phases_together() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log).on(Phase::Stopped, Behaviour::Hang),
            Recorder::new("b", &log).on(Phase::Stopping, Behaviour::Take(Duration::from_secs(1))),
        ],
        |o| o.shutdown_timeout = Duration::from_secs(2),
    );
    let began = Instant::now();
    let report = host.run_until(async {}).await.expect("runs");
    assert_eq!(began.elapsed(), Duration::from_secs(2), "one timeout for the whole stop (H18, H73)");
    assert_eq!(report.timed_out(), ["a"], "only the hanging service is abandoned");
    assert_eq!(log.matching("b:stop"), ["b:stopping", "b:stopping:end", "b:stop", "b:stopped"], "b stopped fully");
}

#[tokio::test(start_paused = true)]
async fn a_service_that_honours_the_token_finishes_at_the_timeout_and_is_not_abandoned() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("polite", &log).on(Phase::Stop, Behaviour::UntilCancelled)], |o| {
        o.shutdown_timeout = Duration::from_secs(3);
    });
    host.start().await.expect("starts");
    let began = Instant::now();
    let report = host.stop().await;
    assert_eq!(began.elapsed(), Duration::from_secs(3), "the token fires at the timeout (H24)");
    assert!(report.is_success(), "it returned when cancelled, so it is not abandoned: {report}");
    assert_eq!(log.matching("polite:stop:"), ["polite:stop:cancelled"], "it saw the cancellation");
}

#[tokio::test(start_paused = true)]
async fn after_the_timeout_the_remaining_services_are_still_called_without_waiting() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log).on(Phase::Stop, Behaviour::UntilCancelled),
            Recorder::new("b", &log).on(Phase::Stop, Behaviour::Hang),
        ],
        |o| o.shutdown_timeout = Duration::from_secs(1),
    );
    host.start().await.expect("starts");
    let began = Instant::now();
    let report = host.stop().await;
    assert_eq!(began.elapsed(), Duration::from_secs(1), "no extra wait after the timeout");
    assert_eq!(report.timed_out(), ["b"], "b is abandoned");
    assert_eq!(
        log.of_phase(Phase::Stop),
        ["b:stop", "a:stop", "a:stop:cancelled"],
        "a is still stopped, in reverse order"
    );
    assert_eq!(log.of_phase(Phase::Stopped), ["b:stopped", "a:stopped"], "every stopped hook runs");
}

#[tokio::test(start_paused = true)]
async fn concurrent_stop_abandons_every_hanging_service_after_one_timeout() {
    let log = Log::default();
    let host = host_with(
        vec![
            Recorder::new("a", &log).on(Phase::Stop, Behaviour::Hang),
            Recorder::new("b", &log).on(Phase::Stop, Behaviour::Hang),
        ],
        |o| {
            o.services_stop_concurrently = true;
            o.shutdown_timeout = Duration::from_secs(4);
        },
    );
    host.start().await.expect("starts");
    let began = Instant::now();
    let report = host.stop().await;
    assert_eq!(began.elapsed(), Duration::from_secs(4), "one timeout, not one per service (H19)");
    assert_eq!(report.timed_out(), ["b", "a"], "both named, in stop order");
}

#[tokio::test(start_paused = true)]
async fn a_zero_shutdown_timeout_still_stops_services_that_finish_at_once() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("quick", &log)], |o| o.shutdown_timeout = Duration::ZERO);
    host.start().await.expect("starts");
    let report = host.stop().await;
    assert!(report.is_success(), "zero is accepted (H49): {report}");
    assert_eq!(log.matching("quick:stop"), ["quick:stopping", "quick:stop", "quick:stopped"], "all phases ran");
}

#[tokio::test(start_paused = true)]
async fn start_is_aborted_at_the_startup_timeout() {
    let log = Log::default();
    let host = host_with(
        vec![Recorder::new("ok", &log), Recorder::new("slow", &log).on(Phase::Start, Behaviour::Hang)],
        |o| o.startup_timeout = Some(Duration::from_secs(10)),
    );
    let began = Instant::now();
    let err = host.start().await.expect_err("start times out");
    assert_eq!(began.elapsed(), Duration::from_secs(10), "aborted exactly at the startup timeout (H16)");
    let HostError::StartupTimeout { timeout, services } = &err else { panic!("expected StartupTimeout, got {err:?}") };
    assert_eq!((*timeout, services.as_slice()), (Duration::from_secs(10), ["slow"].as_slice()), "names the service");
    assert_eq!(
        err.to_string(),
        "start-up did not finish within 10s; raise `HostOptions::startup_timeout` or return from `start` sooner"
    );
    assert_eq!(log.matching("ok:stop"), ["ok:stopping", "ok:stop", "ok:stopped"], "the started service is stopped");
    assert!(!host.lifetime().started().is_cancelled(), "started never fires");
}

#[tokio::test(start_paused = true)]
async fn stop_application_during_start_cancels_the_start_token_and_start_up_finishes() {
    let log = Log::default();
    let host = host_with(vec![Recorder::new("slow", &log).on(Phase::Start, Behaviour::UntilCancelled)], |_| {});
    let lifetime = host.lifetime().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        lifetime.stop_application();
    });
    let began = Instant::now();
    host.start().await.expect("start-up finishes: no service was abandoned (issue 11, break 4)");
    assert_eq!(began.elapsed(), Duration::from_secs(1), "at once");
    assert_eq!(log.matching("slow:start:"), ["slow:start:cancelled"], "the start token was cancelled (H64)");
    assert!(host.stop().await.is_success(), "the started service then stops cleanly");
    assert_eq!(log.of_phase(Phase::Stop), ["slow:stop"], "and it was stopped");
}

#[tokio::test(start_paused = true)]
async fn a_service_that_ignores_the_stop_during_start_is_abandoned_one_shutdown_timeout_later() {
    let log = Log::default();
    let host = host_with(
        vec![Recorder::new("ok", &log), Recorder::new("slow", &log).on(Phase::Start, Behaviour::Hang)],
        |o| o.shutdown_timeout = Duration::from_secs(3),
    );
    let lifetime = host.lifetime().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        lifetime.stop_application();
    });
    let began = Instant::now();
    let err = timeout(Duration::from_secs(60), host.start()).await.expect("bounded").expect_err("start is cancelled");
    let HostError::StartCancelled { abandoned, failures } = &err else {
        panic!("expected StartCancelled, got {err:?}")
    };
    assert_eq!((abandoned.as_slice(), failures.len()), (["slow"].as_slice(), 0), "names the abandoned service (H65)");
    assert_eq!(began.elapsed(), Duration::from_secs(4), "one shutdown timeout after the stop request");
    assert_eq!(log.matching("ok:stop"), ["ok:stopping", "ok:stop", "ok:stopped"], "the started service is stopped");
}
