//! Hosted, background, timed, cron and queued registrations: each returns a registration to
//! attach hooks and dependencies to, and `build()` reports their problems naming your type.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use di_core::{BoxError, Dependencies, FromProvider, Resolver, ServiceCollection};
use di_hosting::{
    BackgroundService, BackgroundWorkExt, CancellationToken, CronJob, CronOptions, FailurePolicy, Host, HostedService,
    HostingServiceCollectionExt, QueueOptions, ScheduleError, TimedOptions, TimedTask,
};

struct Db;
struct Session;

/// A hosted service whose constructor needs a `Db`.
struct Cache;

impl FromProvider for Cache {
    fn from_provider(sp: &Resolver<'_>) -> Result<Self, BoxError> {
        sp.get::<Db>()?;
        Ok(Self)
    }
    fn dependencies(deps: &mut Dependencies) {
        deps.add::<Arc<Db>>();
    }
}

#[async_trait]
impl HostedService for Cache {
    async fn start(&self, _: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
    async fn stop(&self, _: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A background service that (wrongly) takes a scoped `Session` in its constructor.
struct Poller;

impl FromProvider for Poller {
    fn from_provider(sp: &Resolver<'_>) -> Result<Self, BoxError> {
        sp.get::<Session>()?;
        Ok(Self)
    }
    fn dependencies(deps: &mut Dependencies) {
        deps.add::<Arc<Session>>();
    }
}

#[async_trait]
impl BackgroundService for Poller {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        stopping.cancelled().await;
        Ok(())
    }
}

#[test]
fn build_names_the_hosted_and_background_types_not_dyn_hosted_service() {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Session>(|_| Ok(Arc::new(Session)));
    services.add_hosted_service::<Cache>();
    services.add_background_service::<Poller>();
    let text = services.build().expect_err("two problems").to_string();
    assert!(!text.contains("HostedService"), "no private trait-object path: {text}");
    assert!(
        text.contains("no service registered for `registrations::Db` (required by `registrations::Cache`)"),
        "the missing dependency names the hosted service: {text}"
    );
    assert!(
        text.contains("singleton `registrations::Poller` captures scoped service `registrations::Session`"),
        "the captive names the background service: {text}"
    );
}

#[test]
fn a_hosted_service_capturing_a_scoped_service_is_told_to_use_a_scope_per_unit_of_work() {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Session>(|_| Ok(Arc::new(Session)));
    services.add_background_service::<Poller>();
    services.add_hosted_service_with(|_| Ok(Cache)).depends_on::<Arc<Session>>();
    let problems = services.build().expect_err("two captives").problems().to_vec();
    let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    for (service, text) in ["registrations::Poller", "registrations::Cache"].iter().zip(&texts) {
        assert_eq!(
            *text,
            format!(
                "singleton `{service}` captures scoped service `registrations::Session` (required by `{service}`); \
                 `{service}` is always a \
                 singleton, so resolve `registrations::Session` from a scope created per unit of work \
                 (`provider.create_scope()` per tick or item, through an `Arc<ServiceProvider>` that `{service}` \
                 keeps) instead of capturing it"
            ),
            "the hint for {service}"
        );
    }
    assert_eq!(texts.len(), 2, "one problem per hosted service: {texts:?}");

    // An ordinary singleton keeps the hint that offers making it scoped.
    let mut services = ServiceCollection::new();
    services.add_scoped::<Session>(|_| Ok(Arc::new(Session)));
    services.add_singleton::<Cache>(|_| Ok(Arc::new(Cache))).depends_on::<Arc<Session>>();
    let text = services.build().expect_err("a captive").to_string();
    assert!(
        text.contains("or make `registrations::Cache` scoped if it need not be a singleton"),
        "the ordinary hint: {text}"
    );
    assert!(!text.contains("is always a singleton"), "not the hosted hint: {text}");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_factory_registration_takes_declared_dependencies_and_disposal_hooks() {
    let mut services = ServiceCollection::new();
    services.add_hosted_service_with(Cache::from_provider).depends_on::<Arc<Db>>();
    let text = services.build().expect_err("Db is missing").to_string();
    assert!(text.contains("(required by `registrations::Cache`)"), "checked at build, named: {text}");

    let disposed = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&disposed);
    let host = Host::builder()
        .configure_services(move |s| {
            s.add_singleton::<Db>(|_| Ok(Arc::new(Db)));
            s.add_hosted_service_with(Cache::from_provider).depends_on::<Arc<Db>>().on_dispose(
                move |_cache: &Cache| {
                    seen.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                },
            );
        })
        .build()
        .expect("Db is registered");
    host.start().await.unwrap();
    assert!(host.stop().await.is_success());
    host.dispose().await.unwrap();
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "the hook attached to the registration ran");
}

#[test]
fn the_same_type_registers_once_and_each_factory_call_adds_one() {
    let count = |services: &ServiceCollection| {
        services.build().unwrap().resolve::<Vec<Arc<dyn HostedService>>>().map(|all| all.len())
    };
    let mut services = ServiceCollection::new();
    services.add_singleton::<Db>(|_| Ok(Arc::new(Db)));
    services.add_hosted_service::<Cache>();
    services.add_hosted_service::<Cache>();
    assert_eq!(count(&services).unwrap(), 1, "the same type: once");
    services.add_hosted_service_with(|_| Ok(Cache));
    services.add_hosted_service_with(|_| Ok(Cache));
    assert_eq!(count(&services).unwrap(), 3, "each factory call: one more");
}

#[test]
fn every_resolve_hands_out_the_same_hosted_and_background_instances() {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Db>(|_| Ok(Arc::new(Db)));
    services.add_hosted_service::<Cache>();
    services.add_background_service_with(|_| Ok(Poller));
    services.add_hosted_service_with(|_| Ok(Cache));
    let provider = services.build().expect("builds");
    let first = provider.resolve::<Vec<Arc<dyn HostedService>>>().expect("resolves");
    let again = provider.resolve::<Vec<Arc<dyn HostedService>>>().expect("resolves");
    assert_eq!(first.len(), 3);
    for (a, b) in first.iter().zip(&again) {
        assert!(Arc::ptr_eq(a, b), "one instance per registration");
    }
}

#[test]
fn a_hosted_services_dyn_entry_is_the_instance_of_its_type() {
    use std::sync::Mutex;
    let created: Arc<Mutex<Vec<usize>>> = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Db>(|_| Ok(Arc::new(Db)));
    for _ in 0..3 {
        let created = created.clone();
        services.add_hosted_service_with(move |_| Ok(Cache)).on_dispose(move |cache: &Cache| {
            created.lock().unwrap().push(std::ptr::from_ref(cache).addr());
            Ok(())
        });
    }
    let provider = services.build().expect("builds");
    let entries: Vec<usize> = provider
        .resolve::<Vec<Arc<dyn HostedService>>>()
        .expect("resolves")
        .iter()
        .map(|s| Arc::as_ptr(s).cast::<()>().addr())
        .collect();
    provider.dispose_sync().expect("disposes");
    let mut disposed = created.lock().unwrap().clone();
    disposed.reverse(); // disposal runs in reverse creation order
    assert_eq!(entries, disposed, "each `dyn HostedService` is its registration's `T`, in registration order");
}

struct Purge;

#[async_trait]
impl CronJob for Purge {
    async fn run(&self, _firing: DateTime<Utc>, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

#[test]
fn build_reports_a_missing_cron_handler_by_name() {
    let mut services = ServiceCollection::new();
    services.add_cron_job::<Purge>("0 0 3 * * *", CronOptions::default()).unwrap();
    let text = services.build().expect_err("Purge is missing").to_string();
    assert!(
        text.contains(
            "no service registered for `registrations::Purge` (required by \
             `di_hosting::work::cron::CronService<registrations::Purge>`); register it with `services.add_scoped`"
        ),
        "{text}"
    );
    services.add_scoped::<Purge>(|_| Ok(Arc::new(Purge)));
    services.build().expect("registered: builds");
}

#[test]
fn work_registrations_return_the_hosted_entry_for_hooks() {
    let mut services = ServiceCollection::new();
    let disposed = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&disposed);
    services.add_queued_work(QueueOptions::default()).unwrap().on_dispose(move |_service| {
        seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let provider = services.build().unwrap();
    provider.resolve::<Vec<Arc<dyn HostedService>>>().unwrap();
    drop(provider);
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "the hook ran when the container ended");
}

struct Sweep;

#[async_trait]
impl TimedTask for Sweep {
    async fn tick(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

#[test]
fn restart_is_refused_for_units_of_work_naming_the_service_and_what_to_use() {
    let restart = FailurePolicy::Restart { backoff: std::time::Duration::from_secs(1), max_restarts: 3 };
    let mut services = ServiceCollection::new();
    let timed = TimedOptions::every(std::time::Duration::from_secs(1)).on_failure(restart);
    let err = services.add_timed_service::<Sweep>(timed).map(|_| ()).unwrap_err();
    assert_eq!(err, ScheduleError::RestartNotSupported { service: "registrations::Sweep" });
    assert_eq!(
        err.to_string(),
        "`registrations::Sweep` was given `FailurePolicy::Restart`, which applies to background services only; \
         use `FailurePolicy::Ignore` to keep running after a failed unit of work (the next one still runs), or \
         `FailurePolicy::StopHost` to stop the host"
    );
    let err = services.add_cron_job::<Purge>("0 0 3 * * *", CronOptions::default().on_failure(restart)).map(|_| ());
    assert_eq!(err.unwrap_err(), ScheduleError::RestartNotSupported { service: "registrations::Purge" });
    let err = services.add_queued_work(QueueOptions::default().on_failure(restart)).map(|_| ());
    assert_eq!(err.unwrap_err(), ScheduleError::RestartNotSupported { service: "di_hosting::QueuedWorkService" });
    assert_eq!(services.len(), 0, "nothing was registered");

    // The same enum's other values are accepted for units of work.
    services.add_timed_service::<Sweep>(TimedOptions::every(std::time::Duration::from_secs(1))).unwrap();
    let stop = CronOptions::default().on_failure(FailurePolicy::StopHost);
    services.add_cron_job::<Purge>("0 0 3 * * *", stop).unwrap();
    services.add_queued_work(QueueOptions::default().on_failure(FailurePolicy::Ignore)).unwrap();
}
