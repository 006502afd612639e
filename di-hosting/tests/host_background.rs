//! Background services: `execute` runs on its own task and never blocks start; `Ok` keeps the
//! host running; `Err` and panics are contained and handled by the failure policy (StopHost,
//! Ignore, Restart); `stop_application()` from inside a service (reference rows H20-H24, H29,
//! H34-H43, H93 of section 2).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Behaviour, Log, Recorder};
use di_core::{BoxError, Dependencies, FromProvider, Resolver};
use di_hosting::{
    ApplicationLifetime, BackgroundService, CancellationToken, FailurePolicy, Host, HostError, HostOptions,
    HostedService, HostingServiceCollectionExt, Phase,
};
use tokio::time::{Instant, sleep};

/// What one run of `execute` does.
#[derive(Debug, Clone, Copy)]
enum Exec {
    UntilCancelled,
    ReturnOk,
    FailAfter(Duration),
    PanicAfter(Duration),
    IgnoreCancellation,
}

/// A background service following a script: run `n` does `script[n]` (the last entry repeats).
#[derive(Debug, Clone)]
struct Worker {
    name: &'static str,
    log: Log,
    runs: Arc<AtomicU32>,
    script: Vec<Exec>,
}

impl Worker {
    fn new(name: &'static str, log: &Log, script: &[Exec]) -> Self {
        Self { name, log: log.clone(), runs: Arc::default(), script: script.to_vec() }
    }

    fn runs(&self) -> u32 {
        self.runs.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl BackgroundService for Worker {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst);
        self.log.push(format!("{}:execute:{run}", self.name));
        let step = self.script[usize::try_from(run).unwrap_or(usize::MAX).min(self.script.len() - 1)];
        match step {
            Exec::UntilCancelled => {
                stopping.cancelled().await;
                self.log.push(format!("{}:cancelled", self.name));
                Ok(())
            }
            Exec::ReturnOk => Ok(()),
            Exec::FailAfter(after) => {
                sleep(after).await;
                anyhow::bail!("{} failed", self.name)
            }
            Exec::PanicAfter(after) => {
                sleep(after).await;
                panic!("{} panicked", self.name)
            }
            Exec::IgnoreCancellation => std::future::pending().await,
        }
    }

    fn name(&self) -> &'static str {
        self.name
    }
}

fn host(workers: &[&Worker], configure: impl FnOnce(&mut HostOptions)) -> Host {
    let mut builder = Host::builder().configure_options(|o| {
        o.suppress_status_messages = true;
        configure(o);
    });
    for worker in workers {
        let worker = (*worker).clone();
        builder.services().add_background_service_with(move |_| Ok(worker.clone()));
    }
    builder.build().expect("the test host builds")
}

#[tokio::test(start_paused = true)]
async fn execute_runs_on_its_own_task_and_stop_cancels_and_awaits_it() {
    let log = Log::default();
    let worker = Worker::new("w", &log, &[Exec::UntilCancelled]);
    let mut builder = Host::builder().configure_options(|o| o.suppress_status_messages = true);
    let w = worker.clone();
    builder.services().add_background_service_with(move |_| Ok(w.clone()));
    let after = Recorder::new("after", &log);
    builder.services().add_hosted_service_with(move |_| Ok(after.clone()));
    let host = builder.build().expect("builds");

    host.start().await.expect("start returns although execute never ends (H20, H29)");
    assert!(host.lifetime().started().is_cancelled(), "started fired");
    assert_eq!(log.matching("after:start"), ["after:starting", "after:start", "after:started"], "next service started");
    tokio::task::yield_now().await;
    assert_eq!(log.matching("w:"), ["w:execute:0"], "execute is running on its own task");

    let report = host.stop().await;
    assert!(report.is_success(), "clean stop: {report}");
    assert_eq!(
        log.matching("w:"),
        ["w:execute:0", "w:cancelled"],
        "stop cancelled the token and awaited execute (H23)"
    );
}

#[tokio::test(start_paused = true)]
async fn returning_ok_does_not_stop_the_host() {
    let log = Log::default();
    let worker = Worker::new("w", &log, &[Exec::ReturnOk]);
    let began = Instant::now();
    let report = host(&[&worker], |_| {}).run_until(sleep(Duration::from_secs(10))).await.expect("runs");
    assert_eq!(began.elapsed(), Duration::from_secs(10), "the host ran until asked to stop (H43)");
    assert!(report.is_success(), "a completed background service is not a failure: {report}");
    assert_eq!(worker.runs(), 1, "executed once");
}

#[tokio::test(start_paused = true)]
async fn an_error_stops_the_host_with_a_non_zero_exit_code() {
    let log = Log::default();
    let worker = Worker::new("w", &log, &[Exec::FailAfter(Duration::from_secs(2))]);
    let began = Instant::now();
    let report = host(&[&worker], |_| {}).run_until(std::future::pending::<()>()).await.expect("runs");
    assert_eq!(began.elapsed(), Duration::from_secs(2), "StopHost stops the host when the service fails (H35)");
    let failure = report.failures().first().expect("the failure is reported");
    assert_eq!((failure.service(), failure.phase()), ("w", Phase::Execute), "names the service and phase");
    assert_eq!(failure.error().map(ToString::to_string).as_deref(), Some("w failed"), "keeps the error");
    assert_eq!(report.exit_code(), 1, "non-zero exit (H34)");
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_contained_and_reported_with_its_message() {
    let log = Log::default();
    let worker = Worker::new("w", &log, &[Exec::PanicAfter(Duration::from_secs(1))]);
    let report = host(&[&worker], |_| {}).run_until(std::future::pending::<()>()).await.expect("runs");
    let failure = report.failures().first().expect("the panic is reported");
    assert!(failure.is_panic(), "reported as a panic");
    assert_eq!(failure.to_string(), "hosted service `w` panicked in `execute` with message \"w panicked\"");
    assert_eq!(report.exit_code(), 1, "non-zero exit");
}

#[tokio::test(start_paused = true)]
async fn ignore_keeps_the_host_running_and_does_not_restart() {
    let log = Log::default();
    let worker = Worker::new("w", &log, &[Exec::FailAfter(Duration::from_secs(1))]);
    let began = Instant::now();
    let report = host(&[&worker], |o| o.background_service_failure = FailurePolicy::Ignore)
        .run_until(sleep(Duration::from_secs(10)))
        .await
        .expect("runs");
    assert_eq!(began.elapsed(), Duration::from_secs(10), "the failure did not stop the host (H41)");
    assert!(report.is_success(), "an ignored failure does not change the exit code (H42): {report}");
    assert_eq!(worker.runs(), 1, "not restarted");
}

#[tokio::test(start_paused = true)]
async fn restart_retries_after_the_backoff_then_stops_the_host_when_restarts_run_out() {
    let log = Log::default();
    let worker = Worker::new("w", &log, &[Exec::FailAfter(Duration::ZERO)]);
    let policy = FailurePolicy::Restart { backoff: Duration::from_secs(1), max_restarts: 3 };
    let began = Instant::now();
    let report = host(&[&worker], |o| o.background_service_failure = policy)
        .run_until(std::future::pending::<()>())
        .await
        .expect("runs");
    assert_eq!(worker.runs(), 4, "one run plus three restarts");
    assert_eq!(began.elapsed(), Duration::from_secs(3), "one backoff before each restart");
    assert_eq!(report.failures().len(), 1, "the last failure is reported: {report}");
    assert_eq!(report.exit_code(), 1, "non-zero exit once restarts are exhausted");
}

#[tokio::test(start_paused = true)]
async fn restart_recovers_and_the_host_keeps_running() {
    let log = Log::default();
    let fail = Exec::FailAfter(Duration::ZERO);
    let worker = Worker::new("w", &log, &[fail, Exec::PanicAfter(Duration::ZERO), Exec::UntilCancelled]);
    let policy = FailurePolicy::Restart { backoff: Duration::from_millis(500), max_restarts: 5 };
    let report = host(&[&worker], |o| o.background_service_failure = policy)
        .run_until(sleep(Duration::from_secs(10)))
        .await
        .expect("runs");
    assert!(report.is_success(), "recovered failures are not reported: {report}");
    assert_eq!(log.matching("w:"), ["w:execute:0", "w:execute:1", "w:execute:2", "w:cancelled"], "two restarts");
}

#[tokio::test(start_paused = true)]
async fn stopping_during_a_restart_backoff_ends_at_once() {
    let log = Log::default();
    let worker = Worker::new("w", &log, &[Exec::FailAfter(Duration::ZERO)]);
    let policy = FailurePolicy::Restart { backoff: Duration::from_secs(60), max_restarts: 1 };
    let began = Instant::now();
    let report = host(&[&worker], |o| o.background_service_failure = policy)
        .run_until(sleep(Duration::from_secs(1)))
        .await
        .expect("runs");
    assert_eq!(began.elapsed(), Duration::from_secs(1), "the backoff does not delay shutdown");
    assert_eq!((worker.runs(), report.timed_out().len()), (1, 0), "no restart, nothing abandoned");
}

#[tokio::test(start_paused = true)]
async fn every_background_failure_and_stop_failure_is_reported() {
    let log = Log::default();
    let a = Worker::new("a", &log, &[Exec::FailAfter(Duration::from_secs(1))]);
    let b = Worker::new("b", &log, &[Exec::PanicAfter(Duration::from_secs(1))]);
    let mut builder = Host::builder().configure_options(|o| o.suppress_status_messages = true);
    for worker in [a, b] {
        builder.services().add_background_service_with(move |_| Ok(worker.clone()));
    }
    let broken = Recorder::new("broken", &log).on(Phase::Stop, Behaviour::Fail);
    builder.services().add_hosted_service_with(move |_| Ok(broken.clone()));
    let report = builder.build().expect("builds").run_until(std::future::pending::<()>()).await.expect("runs");
    let failures: Vec<_> = report.failures().iter().map(|f| (f.service(), f.phase())).collect();
    assert_eq!(
        failures,
        [("a", Phase::Execute), ("b", Phase::Execute), ("broken", Phase::Stop)],
        "background failures first, then stop failures (H38, H39)"
    );
}

#[tokio::test(start_paused = true)]
async fn an_execute_that_ignores_cancellation_is_abandoned_at_the_shutdown_timeout() {
    let log = Log::default();
    let worker = Worker::new("stubborn", &log, &[Exec::IgnoreCancellation]);
    let began = Instant::now();
    let report =
        host(&[&worker], |o| o.shutdown_timeout = Duration::from_secs(2)).run_until(async {}).await.expect("runs");
    assert_eq!(began.elapsed(), Duration::from_secs(2), "stop returned at the timeout (H24)");
    assert_eq!(report.timed_out(), ["stubborn"], "named as abandoned");
}

struct Stopper {
    lifetime: Arc<ApplicationLifetime>,
}

#[async_trait::async_trait]
impl BackgroundService for Stopper {
    async fn execute(&self, _stopping: CancellationToken) -> anyhow::Result<()> {
        sleep(Duration::from_secs(2)).await;
        self.lifetime.stop_application();
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn stop_application_from_inside_a_service_stops_the_host() {
    let host = Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(|s| {
            s.add_background_service_with(|sp| Ok(Stopper { lifetime: sp.get()? }));
        })
        .build()
        .expect("builds");
    let lifetime = host.lifetime().clone();
    let began = Instant::now();
    let report = host.run_until(std::future::pending::<()>()).await.expect("runs");
    assert_eq!(began.elapsed(), Duration::from_secs(2), "the host stopped when the service asked");
    assert!(report.is_success(), "a requested stop is a clean stop: {report}");
    assert!(lifetime.stopped().is_cancelled(), "stopped fired");
}

/// [`Stopper`] built by constructor injection, for `add_background_service::<T>()`.
struct InjectedStopper {
    lifetime: Arc<ApplicationLifetime>,
}

impl FromProvider for InjectedStopper {
    fn from_provider(sp: &Resolver<'_>) -> Result<Self, BoxError> {
        Ok(Self { lifetime: sp.get()? })
    }
    fn dependencies(deps: &mut Dependencies) {
        deps.add::<Arc<ApplicationLifetime>>();
    }
}

#[async_trait::async_trait]
impl BackgroundService for InjectedStopper {
    async fn execute(&self, _stopping: CancellationToken) -> anyhow::Result<()> {
        sleep(Duration::from_secs(2)).await;
        self.lifetime.stop_application();
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_background_type_added_twice_runs_once_with_its_dependencies_injected() {
    let host = Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(|s| {
            s.add_background_service::<InjectedStopper>();
            s.add_background_service::<InjectedStopper>();
        })
        .build()
        .expect("builds: ApplicationLifetime is registered by the host");
    assert_eq!(host.provider().resolve::<Vec<Arc<dyn HostedService>>>().expect("resolves").len(), 1, "registered once");
    let began = Instant::now();
    let report = host.run_until(std::future::pending::<()>()).await.expect("runs");
    assert_eq!(began.elapsed(), Duration::from_secs(2), "the injected lifetime stopped the host");
    assert!(report.is_success(), "{report}");
}

struct Missing;

/// A background service whose declared dependency nobody registers.
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

#[test]
fn a_background_type_with_a_missing_dependency_fails_the_build() {
    let err = Host::builder()
        .configure_services(|s| {
            s.add_background_service::<Orphan>();
        })
        .build()
        .expect_err("the declared dependency is validated at build");
    assert!(matches!(err, HostError::Build(_)), "a build error, got {err:?}");
}
