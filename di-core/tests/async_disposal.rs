//! Async disposal: `dispose().await` awaits async hooks (preferred over sync ones) in reverse
//! creation order, mixed with sync hooks, each once; failures are collected; dropping a scope
//! with async-only hooks neither blocks nor panics and says so through `tracing` (reference §1.6).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use di_core::{AsyncDispose, BoxError, DisposeFailure, Lifetime, ResolveError, ServiceCollection, Source};

mod support;

use support::{Log, entries, logs, logs_async};

type TestResult = Result<(), Box<dyn std::error::Error>>;
struct Connection;
struct Cache;
struct Channel;

/// A service whose `AsyncDispose` takes a (paused-clock) second and counts its calls.
struct Flushing {
    flushed: AtomicUsize,
}

impl AsyncDispose for Flushing {
    type Error = BoxError;

    async fn dispose_async(&self) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.flushed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

// Rows 94, 106.
#[tokio::test(start_paused = true)]
async fn root_dispose_awaits_a_truly_async_hook_exactly_once() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Flushing>(|_| Ok(Arc::new(Flushing { flushed: AtomicUsize::new(0) }))).async_disposable();
    let provider = services.build()?;
    let flushing = provider.get::<Flushing>()?;
    let started = tokio::time::Instant::now();
    provider.dispose().await?;
    assert_eq!(started.elapsed(), Duration::from_secs(1), "dispose().await waited for the hook to finish");
    assert_eq!(flushing.flushed.load(Ordering::SeqCst), 1, "the hook ran once");
    provider.dispose().await?;
    drop(provider);
    assert_eq!(flushing.flushed.load(Ordering::SeqCst), 1, "a second dispose and the drop do nothing");
    Ok(())
}

// Rows 98, 102, 80.
#[tokio::test]
async fn async_scope_dispose_runs_sync_only_hooks_too() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_transient::<Cache>(|_| Ok(Arc::new(Cache))).on_dispose(logs(&log, "sync only"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Cache>()?;
    scope.dispose().await?;
    assert_eq!(entries(&log), ["sync only"], "a sync hook runs on the async path");
    Ok(())
}

// Row 107, and the mixed order the issue asks for.
#[tokio::test(start_paused = true)]
async fn mixed_sync_and_async_hooks_run_in_reverse_creation_order() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    let l2 = log.clone();
    services
        .add_singleton::<Connection>(|_| Ok(Arc::new(Connection)))
        .on_dispose(logs(&log, "connection (sync, created 1st)"));
    services
        .add::<Channel>(
            Lifetime::Singleton,
            Source::from_async_fn(|sp| async move {
                sp.get_async::<Connection>().await?;
                Ok::<_, BoxError>(Arc::new(Channel))
            }),
        )
        .on_dispose_async(move |_| {
            let log = l2.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await; // completes asynchronously mid-loop
                log.lock().unwrap().push("channel (async, created 2nd)");
                Ok(())
            }
        });
    services
        .add_singleton::<Cache>(|sp| {
            sp.get::<Channel>()?;
            Ok(Arc::new(Cache))
        })
        .depends_on::<Arc<Channel>>()
        .on_dispose(logs(&log, "cache (sync, created 3rd)"));
    let provider = services.build()?;
    provider.get_async::<Cache>().await?;
    provider.dispose().await?;
    assert_eq!(
        entries(&log),
        ["cache (sync, created 3rd)", "channel (async, created 2nd)", "connection (sync, created 1st)"],
        "newest first, whatever the kind of hook"
    );
    Ok(())
}

#[tokio::test]
async fn failing_async_hooks_do_not_stop_the_others_and_are_all_reported() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_scoped::<Cache>(|_| Ok(Arc::new(Cache))).on_dispose(logs(&log, "cache"));
    services
        .add_scoped::<Connection>(|_| Ok(Arc::new(Connection)))
        .on_dispose_async(|_| async { Err("already closed".into()) });
    services.add_scoped::<Channel>(|_| Ok(Arc::new(Channel))).on_dispose_async(|_| async { panic!("flush exploded") });
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Cache>()?;
    scope.provider().get::<Connection>()?;
    scope.provider().get::<Channel>()?;
    let err = scope.dispose().await.expect_err("two hooks failed");
    assert_eq!(entries(&log), ["cache"], "the healthy hook still ran, last since it was created first");
    match err.failures() {
        [DisposeFailure::Panicked { service: p, message }, DisposeFailure::Failed { service: f, source }] => {
            assert_eq!((*p, message.as_str()), (std::any::type_name::<Channel>(), "flush exploded"));
            assert_eq!((*f, source.to_string().as_str()), (std::any::type_name::<Connection>(), "already closed"));
        }
        other => panic!("expected [Panicked, Failed] in the order the hooks ran, got {other:?}"),
    }
    assert_eq!(err.into_failures().len(), 2);
    Ok(())
}

// Rows 101, 105.
#[tokio::test]
async fn sync_dispose_of_a_scope_with_an_async_only_hook_reports_it() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_scoped::<Channel>(|_| Ok(Arc::new(Channel))).on_dispose_async(logs_async(&log, "async hook"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Channel>()?;
    let err = scope.provider().dispose_sync().expect_err("the hook is async only");
    assert!(
        matches!(err.failures(), [DisposeFailure::AsyncOnly { service }] if *service == std::any::type_name::<Channel>()),
        "{err:?}"
    );
    assert!(entries(&log).is_empty(), "not run, not blocked on");
    scope.dispose().await?;
    assert!(entries(&log).is_empty(), "the scope is disposed: a later dispose().await does nothing");
    Ok(())
}

/// Collects what a `tracing` fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn dropping_a_scope_with_async_only_hooks_warns_instead_of_blocking() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_scoped::<Channel>(|_| Ok(Arc::new(Channel))).on_dispose_async(logs_async(&log, "async hook"));
    services.add_scoped::<Cache>(|_| Ok(Arc::new(Cache))).on_dispose(logs(&log, "sync hook"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Channel>()?;
    scope.provider().get::<Cache>()?;

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    tracing::subscriber::with_default(subscriber, || drop(scope));

    assert_eq!(entries(&log), ["sync hook"], "the sync hook ran in Drop, the async one could not");
    let output = String::from_utf8(captured.0.lock().unwrap().clone())?;
    assert!(output.contains("WARN"), "a warning was emitted: {output:?}");
    assert!(
        output.contains(&format!(
            "dropped without `dispose().await`: the async disposal hook of `{}` did not run",
            std::any::type_name::<Channel>()
        )),
        "the warning names the service and the fix: {output:?}"
    );
    Ok(())
}

// Row 109: an async factory disposes the provider mid-creation, on a single-threaded runtime.
#[tokio::test(flavor = "current_thread")]
async fn async_instance_created_during_disposal_is_disposed_with_its_async_hook() -> TestResult {
    let log: Log = Arc::default();
    let l = log.clone();
    let mut services = ServiceCollection::new();
    services
        .add::<Channel>(
            Lifetime::Singleton,
            Source::from_async_fn(|sp| async move {
                sp.provider()?.dispose().await?;
                Ok::<_, BoxError>(Arc::new(Channel))
            }),
        )
        .on_dispose_async(move |_| {
            let log = l.clone();
            async move {
                tokio::task::yield_now().await;
                log.lock().unwrap().push("late channel");
                Ok(())
            }
        });
    let provider = services.build()?;
    let err = provider.get_async::<Channel>().await.err().expect("the provider was disposed mid-creation");
    assert!(matches!(err, ResolveError::Disposed { .. }), "{err:?}");
    assert_eq!(entries(&log), ["late channel"], "the late instance's async hook was awaited, once");
    Ok(())
}

// Rows 24, 78-82, 95, 99, 103.
#[tokio::test]
async fn each_way_of_ending_a_scope_or_the_root_runs_the_matching_hook() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services
        .add_scoped::<Connection>(|_| Ok(Arc::new(Connection)))
        .on_dispose(logs(&log, "sync"))
        .on_dispose_async(logs_async(&log, "async"));
    let provider = services.build_with(di_core::ProviderOptions::default().validate_scopes(false))?;

    let awaited = provider.create_scope()?;
    awaited.provider().get::<Connection>()?;
    awaited.dispose().await?;
    assert_eq!(entries(&log), ["async"], "a scope's dispose().await prefers the async hook");

    let synced = provider.create_scope()?;
    synced.provider().get::<Connection>()?;
    synced.provider().dispose_sync()?;
    assert_eq!(entries(&log), ["async", "sync"], "dispose_sync runs only the sync hook");

    let dropped = provider.create_scope()?;
    dropped.provider().get::<Connection>()?;
    drop(dropped);
    assert_eq!(entries(&log), ["async", "sync", "sync"], "dropping runs only the sync hook");

    provider.get::<Connection>()?;
    provider.dispose().await?;
    assert_eq!(entries(&log), ["async", "sync", "sync", "async"], "the root's dispose().await prefers it too");
    Ok(())
}

/// `dispose_until` keeps disposal bounded: at the deadline the running hook is abandoned and
/// the ones not started are dropped, each named; nothing runs later, and the root is disposed.
#[tokio::test(start_paused = true)]
async fn dispose_until_names_the_abandoned_hook_and_the_ones_not_run() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use di_core::DisposeFailure;

    struct First;
    struct Hung;
    struct Last;
    let ran = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    let count = ran.clone();
    services.add_singleton::<First>(|_| Ok(Arc::new(First))).on_dispose(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    services.add_singleton::<Hung>(|_| Ok(Arc::new(Hung))).on_dispose_async(|_| std::future::pending());
    let count = ran.clone();
    services.add_singleton::<Last>(|_| Ok(Arc::new(Last))).on_dispose(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let provider = services.build().expect("valid");
    provider.get::<First>().expect("created first");
    provider.get::<Hung>().expect("created second");
    provider.get::<Last>().expect("created last");

    // Reverse creation order: `Last` runs, `Hung` never finishes, `First` never starts.
    let deadline = tokio::time::sleep(Duration::from_secs(5));
    let bounded = tokio::time::timeout(Duration::from_secs(6), provider.dispose_until(deadline));
    let err = bounded.await.expect("returns at its deadline").expect_err("one hook hung");
    let named: Vec<_> = err
        .failures()
        .iter()
        .map(|f| match f {
            DisposeFailure::Interrupted { service } => ("interrupted", *service),
            DisposeFailure::NotRun { service } => ("not run", *service),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(named, [("not run", std::any::type_name::<First>()), ("interrupted", std::any::type_name::<Hung>())]);
    assert_eq!(ran.load(Ordering::SeqCst), 1, "only `Last`'s hook ran");
    assert!(provider.is_disposed());
    provider.dispose().await.expect("nothing is left to run or report");
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the hooks not run are dropped, not run later");
}
