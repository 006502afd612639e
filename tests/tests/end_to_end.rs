//! End to end through the real `Host` on paused tokio time: a timed service with a scope per
//! tick, queued work fed by a background service and drained on stop, a background service that
//! stops the application, and a failing background service that makes the run exit non-zero.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use di_core::{Injectable, Lifetime, ServiceProvider, Source};
use di_hosting::{
    ApplicationLifetime, BackgroundService, BackgroundTaskQueue, BackgroundWorkExt, CancellationToken, Host,
    HostingServiceCollectionExt, Phase, QueueOptions, TimedOptions, TimedTask, WorkItem, WorkMetrics,
};
use tokio::time::Instant;

/// Long enough that only the service under test can end the run.
const AN_HOUR: Duration = Duration::from_secs(3600);

/// One unit of work as the services under test saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// What ran, e.g. `tick at 10s` or `item 3`.
    what: String,
    /// The id of the scoped `UnitOfWork` it resolved.
    unit: u64,
    /// How many `UnitOfWork`s had been disposed when it ran.
    disposed_before: usize,
    /// The address of the singleton `Shared` it resolved.
    shared: usize,
}

/// What happened, in order: shared by the services under test as a singleton instance.
#[derive(Debug)]
struct Journal {
    origin: Instant,
    entries: Mutex<Vec<Entry>>,
    /// The ids of the `UnitOfWork`s whose dispose hook ran, in order.
    disposed: Mutex<Vec<u64>>,
    /// How many times the singleton `Shared`'s dispose hook ran.
    shared_disposed: AtomicU64,
    /// Numbers the `UnitOfWork`s.
    next_id: AtomicU64,
}

impl Journal {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            entries: Mutex::default(),
            disposed: Mutex::default(),
            shared_disposed: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
        })
    }

    /// Seconds since the journal was created, on tokio's (paused) clock.
    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    fn record(&self, what: String, unit: &UnitOfWork, shared: &Arc<Shared>) {
        let disposed_before = self.disposed().len();
        let entry = Entry { what, unit: unit.id, disposed_before, shared: Arc::as_ptr(shared) as usize };
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    }

    fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn disposed(&self) -> Vec<u64> {
        self.disposed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn shared_disposed(&self) -> u64 {
        self.shared_disposed.load(Ordering::SeqCst)
    }
}

/// Scoped: one per unit of work, numbered; its dispose hook records its id in the journal.
#[derive(Debug)]
struct UnitOfWork {
    id: u64,
}

/// A singleton every unit of work shares; its dispose hook records that the root was disposed.
#[derive(Debug, Injectable)]
struct Shared {
    #[inject(default)]
    uses: AtomicU64,
}

/// A host builder with the journal, the scoped `UnitOfWork` and the singleton `Shared`
/// registered, each with a dispose hook that writes to the journal.
fn builder_with_journal(journal: &Arc<Journal>) -> di_hosting::HostBuilder {
    let mut builder = Host::builder();
    let services = builder.services();
    services.add(Lifetime::Singleton, Source::<Journal>::instance(Arc::clone(journal)));
    let on_unit_disposed = Arc::clone(journal);
    services
        .add_scoped::<UnitOfWork>(|sp| {
            Ok(Arc::new(UnitOfWork { id: sp.get::<Journal>()?.next_id.fetch_add(1, Ordering::SeqCst) + 1 }))
        })
        .depends_on::<Arc<Journal>>()
        .on_dispose(move |unit| {
            on_unit_disposed.disposed.lock().unwrap_or_else(PoisonError::into_inner).push(unit.id);
            Ok(())
        });
    let on_shared_disposed = Arc::clone(journal);
    services.add(Lifetime::Singleton, Source::<Shared>::injected()).on_dispose(move |_| {
        on_shared_disposed.shared_disposed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    builder
}

/// Checks that every entry ran in its own scope, that each scope was disposed before the next
/// unit of work ran, and that they all shared `shared`.
fn assert_scope_per_unit(journal: &Journal, shared: &Arc<Shared>) {
    let entries = journal.entries();
    let units: Vec<u64> = entries.iter().map(|e| e.unit).collect();
    let distinct: BTreeSet<u64> = units.iter().copied().collect();
    assert_eq!(distinct.len(), entries.len(), "expected one distinct scope per unit of work, got units {units:?}");
    assert_eq!(journal.disposed(), units, "expected every unit's scope disposed, in the order the units ran");
    let disposed_before: Vec<usize> = entries.iter().map(|e| e.disposed_before).collect();
    let expected: Vec<usize> = (0..entries.len()).collect();
    assert_eq!(disposed_before, expected, "expected each unit's scope disposed before the next unit ran");
    let address = Arc::as_ptr(shared) as usize;
    assert!(
        entries.iter().all(|e| e.shared == address),
        "expected every unit of work to see the one root singleton `Shared`, got {entries:#?}"
    );
    assert_eq!(
        shared.uses.load(Ordering::SeqCst),
        entries.len() as u64,
        "expected the singleton used once per unit of work"
    );
}

// ===== (a) timed service: a scope per tick =====

/// The per-tick work, resolved as a trait object.
trait ScopedProcessingService: TimedTask {}

/// The scoped handler, built by constructor injection.
#[derive(Injectable)]
#[injectable(provides(dyn ScopedProcessingService))]
struct Processor {
    unit: Arc<UnitOfWork>,
    shared: Arc<Shared>,
    journal: Arc<Journal>,
    provider: Arc<ServiceProvider>,
}

#[async_trait]
impl TimedTask for Processor {
    async fn tick(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        // Within its scope the scoped dependency is one instance: the handler's.
        let again = self.provider.get::<UnitOfWork>()?;
        anyhow::ensure!(Arc::ptr_eq(&again, &self.unit), "the tick's scope resolved a second UnitOfWork");
        self.shared.uses.fetch_add(1, Ordering::SeqCst);
        self.journal.record(format!("tick at {}s", self.journal.elapsed().as_secs()), &self.unit, &self.shared);
        Ok(())
    }
}

impl ScopedProcessingService for Processor {}

#[tokio::test(start_paused = true)]
async fn a_timed_service_ticks_every_period_each_tick_in_its_own_disposed_scope() -> anyhow::Result<()> {
    let journal = Journal::new();
    let mut builder = builder_with_journal(&journal);
    builder.services().add(Lifetime::Scoped, Source::<dyn ScopedProcessingService>::implemented_by::<Processor>());
    builder.services().add_timed_service::<dyn ScopedProcessingService>(
        TimedOptions::every(Duration::from_secs(10)).name("end_to_end::Processor"),
    )?;
    let host = builder.build()?;
    let shared = host.provider().get::<Shared>()?;

    // Ticks fall due at 0, 10, ..., 50 s; the seventh at exactly 60 s. Stopping one second
    // before it keeps the count independent of which of two simultaneous timers wakes first.
    let report = host.run_until(tokio::time::sleep(Duration::from_secs(59))).await?;

    assert_eq!(report.exit_code(), 0, "expected a clean run to exit 0, got: {report}");
    let ticks: Vec<String> = journal.entries().into_iter().map(|e| e.what).collect();
    let expected: Vec<String> = (0..6).map(|n| format!("tick at {}s", n * 10)).collect();
    assert_eq!(ticks, expected, "expected six ticks, one every 10 s from the start, in a simulated minute");
    assert_scope_per_unit(&journal, &shared);
    assert_eq!(journal.shared_disposed(), 1, "expected the host to dispose the root: the singleton's hook ran once");
    Ok(())
}

// ===== (b) queued work fed by a background service =====

/// Enqueues five items through `Arc<dyn BackgroundTaskQueue>`, then completes.
#[derive(Injectable)]
struct Producer {
    queue: Arc<dyn BackgroundTaskQueue>,
}

#[async_trait]
impl BackgroundService for Producer {
    async fn execute(&self, _stopping: CancellationToken) -> anyhow::Result<()> {
        for n in 1..=5 {
            let item = WorkItem::named(format!("item {n}"), move |cx| async move {
                let services = cx.services();
                let (unit, shared, journal) =
                    (services.get::<UnitOfWork>()?, services.get::<Shared>()?, services.get::<Journal>()?);
                shared.uses.fetch_add(1, Ordering::SeqCst);
                // Each item takes a second; only the shutdown timeout may cancel it.
                let what = tokio::select! {
                    () = cx.cancel().cancelled() => format!("item {n} cancelled"),
                    () = tokio::time::sleep(Duration::from_secs(1)) => format!("item {n}"),
                };
                journal.record(what, &unit, &shared);
                Ok(())
            });
            self.queue.enqueue(item).await?;
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "end_to_end::Producer"
    }
}

#[tokio::test(start_paused = true)]
async fn queued_work_from_a_background_service_runs_fifo_each_item_in_its_own_scope_and_stop_drains_it()
-> anyhow::Result<()> {
    let journal = Journal::new();
    let mut builder = builder_with_journal(&journal);
    builder.services().add_queued_work(QueueOptions::default().capacity(8).name("end_to_end::queue"))?;
    builder.services().add_background_service::<Producer>();
    let host = builder.build()?;
    let shared = host.provider().get::<Shared>()?;
    let queue = host.provider().get::<dyn BackgroundTaskQueue>()?;
    let metrics = host.provider().get::<WorkMetrics>()?;

    // At 1.5 s item 1 is done, item 2 is running and items 3 to 5 are queued: stop must drain
    // them, one a second, well within the default 5 s shutdown timeout.
    let report = host.run_until(tokio::time::sleep(Duration::from_millis(1500))).await?;

    assert_eq!(report.exit_code(), 0, "expected a clean run to exit 0, got: {report}");
    let items: Vec<String> = journal.entries().into_iter().map(|e| e.what).collect();
    let expected: Vec<String> = (1..=5).map(|n| format!("item {n}")).collect();
    assert_eq!(items, expected, "expected all five items run to completion in the order they were enqueued");
    assert_eq!(journal.elapsed(), Duration::from_secs(5), "expected stop to wait for the queue to drain (5 x 1 s)");
    assert_scope_per_unit(&journal, &shared);
    assert_eq!(
        (metrics.completed(), metrics.failed(), metrics.abandoned()),
        (5, 0, 0),
        "expected metrics (completed, failed, abandoned) = (5, 0, 0)"
    );
    assert!(
        queue.try_enqueue(WorkItem::new(|_cx| async { Ok(()) })).is_err(),
        "expected the stopped queue to refuse new work"
    );
    assert_eq!(journal.shared_disposed(), 1, "expected the host to dispose the root: the singleton's hook ran once");
    Ok(())
}

// ===== (c) a background service stops the application =====

/// Works for three seconds, then asks the application to stop.
#[derive(Injectable)]
struct StopsAfterThreeSeconds {
    lifetime: Arc<ApplicationLifetime>,
    shared: Arc<Shared>,
}

#[async_trait]
impl BackgroundService for StopsAfterThreeSeconds {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        tokio::select! {
            () = stopping.cancelled() => anyhow::bail!("stopped before it could stop the application"),
            () = tokio::time::sleep(Duration::from_secs(3)) => {}
        }
        self.shared.uses.fetch_add(1, Ordering::SeqCst);
        self.lifetime.stop_application();
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_background_service_calling_stop_application_ends_the_run_early_and_the_root_is_disposed()
-> anyhow::Result<()> {
    let journal = Journal::new();
    let mut builder = builder_with_journal(&journal);
    builder.services().add_background_service::<StopsAfterThreeSeconds>();
    let host = builder.build()?;
    let provider = Arc::clone(host.provider());
    let lifetime = Arc::clone(host.lifetime());

    let report = host.run_until(tokio::time::sleep(AN_HOUR)).await?;

    assert_eq!(report.exit_code(), 0, "expected exit code 0 after stop_application(), got: {report}");
    assert_eq!(journal.elapsed(), Duration::from_secs(3), "expected the run to end when the service asked, at 3 s");
    assert!(lifetime.stopped().is_cancelled(), "expected the stopped event to have fired");
    assert!(provider.is_disposed(), "expected the host to dispose the root provider");
    assert_eq!(
        journal.shared_disposed(),
        1,
        "expected the singleton the service depended on to be disposed by the host, once"
    );
    Ok(())
}

// ===== (d) a failing background service =====

/// Fails after two seconds.
#[derive(Debug)]
struct Fails;

#[async_trait]
impl BackgroundService for Fails {
    async fn execute(&self, _stopping: CancellationToken) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        anyhow::bail!("the disk is full")
    }

    fn name(&self) -> &'static str {
        "end_to_end::Fails"
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_background_service_under_the_default_policy_stops_the_host_with_a_non_zero_exit_code()
-> anyhow::Result<()> {
    let journal = Journal::new();
    let mut builder = builder_with_journal(&journal);
    builder.services().add_background_service_with(|_| Ok(Fails));
    let host = builder.build()?;
    let _shared = host.provider().get::<Shared>()?;

    let report = host.run_until(tokio::time::sleep(AN_HOUR)).await?;

    assert_ne!(report.exit_code(), 0, "expected a non-zero exit code when a background service fails: {report}");
    assert_eq!(journal.elapsed(), Duration::from_secs(2), "expected the failure to stop the host at once, at 2 s");
    let failures: Vec<(&str, Phase)> = report.failures().iter().map(|f| (f.service(), f.phase())).collect();
    assert_eq!(failures, [("end_to_end::Fails", Phase::Execute)], "expected one failure, in `execute`, named");
    let error = report.failures()[0].error().map(|e| format!("{e:#}"));
    assert_eq!(error.as_deref(), Some("the disk is full"), "expected the service's own error in the report");
    assert!(report.to_string().contains("end_to_end::Fails"), "expected the report to name the service: {report}");
    assert_eq!(journal.shared_disposed(), 1, "expected the host to dispose the root even after a failure");
    Ok(())
}
