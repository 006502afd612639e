//! Regressions of the resolution model: one test per bug the model before `Resolver` had.
//!
//! 1. A sync `get` blocked on a creation an async factory owns (or on a sync service whose async
//!    dependency was being prefetched while its claim was held).
//! 2. Two waits inside one resolution (`join!` in an async factory) were taken for a cycle.
//! 3. A real deadlock inside one resolution was reported as a one-service cycle (`X` -> `X`).
//! 4. A resolve woken after its scope was disposed ran the factory again.
//! 5. Hooks left by a cancelled `dispose()` never ran.
//! 6. `Scope::provider()` handed out a strong handle that kept the container alive.
//!
//! Every wait is bounded, so a regression shows up as a failure, not a hang. A sync resolve that
//! blocks cannot be interrupted by a `tokio` timeout, so those run on their own OS thread and only
//! the wait for their result is bounded.

use std::any::type_name;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use di_core::{DisposeFailure, Lifetime, ResolveError, ServiceCollection, ServiceProvider, Source};
use tokio::sync::Notify;

mod support;

use support::{Log, entries, logs, logs_async};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Far longer than any step needs; only reached if something hangs.
const HANG: Duration = Duration::from_secs(2);

/// Awaits `future`, failing the test if it takes longer than [`HANG`].
async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(HANG, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: still pending after {HANG:?}"),
    }
}

/// Runs a blocking call on its own OS thread and awaits its result, bounded by [`HANG`]; the
/// runtime keeps running meanwhile.
async fn off_thread<R: Send + 'static>(what: &str, call: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(call());
    });
    within(what, rx).await.expect("the thread ran the call to the end")
}

// ===== 1. a sync `get` never waits for an async creation =====

#[derive(Debug)]
struct Conn;
#[derive(Debug)]
struct Repo;

/// Lets a test hold an async factory at an await point: the factory signals `started` when it
/// is first polled, then parks until `release`.
#[derive(Default)]
struct Gate {
    started: Notify,
    release: Notify,
    calls: AtomicUsize,
}

fn add_parked_conn(services: &mut ServiceCollection, gate: &Arc<Gate>) {
    let gate = gate.clone();
    services.add::<Conn>(
        Lifetime::Singleton,
        Source::from_async_fn(move |_| {
            let gate = gate.clone();
            async move {
                gate.calls.fetch_add(1, Ordering::SeqCst);
                gate.started.notify_one();
                gate.release.notified().await;
                Ok::<_, di_core::BoxError>(Arc::new(Conn))
            }
        }),
    );
}

fn assert_async_factory<T: std::fmt::Debug>(result: Result<T, ResolveError>, service: &str) {
    match result {
        Err(ResolveError::AsyncFactory { service: s, .. }) => assert_eq!(s, service),
        other => panic!("expected `AsyncFactory` for `{service}`, got {other:?}"),
    }
}

/// Bug 1: a sync `get` blocked on a creation an async factory owns. On a current-thread runtime
/// that future can only make progress on the thread the `get` blocks, so it hung for good. The
/// documented behaviour is `ResolveError::AsyncFactory`, at once.
#[tokio::test(flavor = "current_thread")]
async fn bug1_sync_get_during_an_async_creation_fails_at_once() -> TestResult {
    let gate = Arc::new(Gate::default());
    let mut services = ServiceCollection::new();
    add_parked_conn(&mut services, &gate);
    let provider = services.build()?;

    let creating = tokio::spawn({
        let provider = provider.clone();
        async move { provider.get_async::<Conn>().await }
    });
    within("the async factory starts", gate.started.notified()).await;

    let sync = off_thread("a sync get while the async factory is parked", {
        let provider = provider.clone();
        move || provider.get::<Conn>()
    })
    .await;
    assert_async_factory(sync, type_name::<Conn>());

    gate.release.notify_one();
    let conn = within("the async creation finishes once released", creating).await??;
    assert!(Arc::ptr_eq(&conn, &provider.get_async::<Conn>().await?), "one `Conn`, cached");
    assert!(Arc::ptr_eq(&conn, &provider.get::<Conn>()?), "once created, a sync get finds it");
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1, "the async factory ran once");
    Ok(())
}

/// Bug 1, second form: `get_async::<Repo>()` of a sync factory with a declared async dependency
/// held `Repo`'s claim while it awaited the dependency's creation, so a concurrent sync
/// `get::<Repo>()` blocked on `Repo` (hanging a current-thread runtime). Now the dependency is
/// created before the claim: the sync `get` runs `Repo`'s factory, whose `get::<Conn>()` fails at
/// once with `AsyncFactory`, and the async resolve still succeeds afterwards.
#[tokio::test(flavor = "current_thread")]
async fn bug1_sync_get_during_the_prefetch_of_an_async_dependency_does_not_block() -> TestResult {
    let gate = Arc::new(Gate::default());
    let repo_calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    add_parked_conn(&mut services, &gate);
    let calls = repo_calls.clone();
    services
        .add_singleton::<Repo>(move |sp| {
            calls.fetch_add(1, Ordering::SeqCst);
            sp.get::<Conn>()?;
            Ok(Arc::new(Repo))
        })
        .depends_on::<Arc<Conn>>();
    let provider = services.build()?;

    let creating = tokio::spawn({
        let provider = provider.clone();
        async move { provider.get_async::<Repo>().await }
    });
    within("the prefetch of `Conn` starts", gate.started.notified()).await;

    let sync = off_thread("a sync get of `Repo` while its dependency is prefetched", {
        let provider = provider.clone();
        move || provider.get::<Repo>()
    })
    .await;
    assert_async_factory(sync, type_name::<Conn>());

    gate.release.notify_one();
    let repo = within("the async resolve of `Repo` finishes once released", creating).await??;
    assert!(Arc::ptr_eq(&repo, &provider.get::<Repo>()?), "one `Repo`, cached");
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1, "`Conn`'s factory ran once");
    assert_eq!(repo_calls.load(Ordering::SeqCst), 2, "the failed sync attempt, then the async resolve");
    Ok(())
}

// ===== 2. and 3. waits inside one resolution =====

#[derive(Debug)]
struct Config;
#[derive(Debug)]
struct Client {
    config: Arc<Config>,
}
#[derive(Debug)]
struct App {
    config: Arc<Config>,
    client: Arc<Client>,
}

/// Bug 2: an async factory joining `get_async::<Config>()` and `get_async::<Client>()`, where
/// `Client` needs `Config` too, failed with a false cycle (`Config` -> `Config`): both branches
/// shared one resolution id, so `Client`'s wait for the `Config` its sibling was creating looked
/// like a wait on itself.
#[tokio::test(start_paused = true)]
async fn bug2_sibling_waits_inside_one_resolution_are_not_a_cycle() -> TestResult {
    let config_calls = Arc::new(AtomicUsize::new(0));
    let calls = config_calls.clone();
    let mut services = ServiceCollection::new();
    services.add::<Config>(
        Lifetime::Singleton,
        Source::from_async_fn(move |_| {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                // Still being created when the other branch asks for it.
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok::<_, di_core::BoxError>(Arc::new(Config))
            }
        }),
    );
    services.add::<Client>(
        Lifetime::Singleton,
        Source::from_async_fn(|sp| async move {
            Ok::<_, di_core::BoxError>(Arc::new(Client { config: sp.get_async().await? }))
        }),
    );
    services.add::<App>(
        Lifetime::Singleton,
        Source::from_async_fn(|sp| async move {
            let (config, client) = tokio::join!(sp.get_async::<Config>(), sp.get_async::<Client>());
            Ok::<_, di_core::BoxError>(Arc::new(App { config: config?, client: client? }))
        }),
    );
    let provider = services.build()?;

    let app = within("`App` resolves", provider.get_async::<App>()).await?;
    assert!(Arc::ptr_eq(&app.config, &app.client.config), "both branches got the one `Config`");
    assert_eq!(config_calls.load(Ordering::SeqCst), 1, "`Config`'s factory ran once");
    Ok(())
}

#[derive(Debug)]
struct X;
#[derive(Debug)]
struct Y;
#[derive(Debug)]
struct Both;

/// The services on a cycle error's path, or the error itself if it is not a cycle.
fn cycle_path(err: &ResolveError) -> Result<Vec<&'static str>, String> {
    match err {
        ResolveError::Cycle { path, .. } => Ok(path.services().to_vec()),
        other => Err(format!("expected a cycle error, got {other:?}")),
    }
}

/// Asserts that `path` (a cycle error's, or not a cycle) closes a cycle through both `X` and `Y`:
/// from the first occurrence of the service it ends with, it is `X -> Y -> X` or `Y -> X -> Y`.
fn assert_cycle_between_x_and_y(path: Result<Vec<&'static str>, String>) {
    let path = path.unwrap_or_else(|other| panic!("{other}"));
    let last = path.last().expect("a cycle path is never empty");
    let first = path.iter().position(|s| s == last).expect("the last service is on the path");
    let mut cycle = path[first..path.len() - 1].to_vec();
    cycle.sort_unstable();
    assert_eq!(cycle, [type_name::<X>(), type_name::<Y>()], "a cycle through both `X` and `Y`: {path:?}");
}

/// Bug 3: a real deadlock inside one resolution (`Both` joins `X` and `Y`; `X` needs `Y` and `Y`
/// needs `X`; each is claimed before either asks for the other) must fail with a cycle between
/// `X` and `Y`, within a bound, from both branches. The old model did not hang here, but reported
/// a one-service cycle (`Both` -> `Y` -> `X` -> `X`), the same confusion as bug 2; with a
/// creation id per claim, the wait graph sees the true cycle. Nothing stays claimed afterwards.
#[tokio::test(start_paused = true)]
async fn bug3_a_deadlock_between_sibling_branches_is_a_cycle_between_them() -> TestResult {
    type Branches = Arc<Mutex<Vec<Result<Vec<&'static str>, String>>>>;
    let branches: Branches = Arc::default();
    let mut services = ServiceCollection::new();
    services.add::<X>(
        Lifetime::Singleton,
        Source::from_async_fn(|sp| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            sp.get_async::<Y>().await?;
            Ok::<_, di_core::BoxError>(Arc::new(X))
        }),
    );
    services.add::<Y>(
        Lifetime::Singleton,
        Source::from_async_fn(|sp| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            sp.get_async::<X>().await?;
            Ok::<_, di_core::BoxError>(Arc::new(Y))
        }),
    );
    let seen = branches.clone();
    services.add::<Both>(
        Lifetime::Singleton,
        Source::from_async_fn(move |sp| {
            let seen = seen.clone();
            async move {
                let (x, y) = tokio::join!(sp.get_async::<X>(), sp.get_async::<Y>());
                seen.lock().unwrap().extend([x.as_ref().err(), y.as_ref().err()].into_iter().flatten().map(cycle_path));
                x?;
                y?;
                Ok::<_, di_core::BoxError>(Arc::new(Both))
            }
        }),
    );
    let provider = services.build()?;

    let err = within("the deadlock is detected", provider.get_async::<Both>()).await.expect_err("X and Y deadlock");
    assert_cycle_between_x_and_y(cycle_path(&err));
    let branches = std::mem::take(&mut *branches.lock().unwrap());
    assert_eq!(branches.len(), 2, "both branches failed: {branches:?}");
    for branch in branches {
        assert_cycle_between_x_and_y(branch);
    }

    let again = within("a later resolve", provider.get_async::<X>()).await.expect_err("still a cycle");
    assert_cycle_between_x_and_y(cycle_path(&again));
    Ok(())
}

// ===== 4. no creation after disposal =====

#[derive(Debug)]
struct Session;

/// Bug 4: a resolve waiting for a scoped service's creation, woken after the scope was disposed
/// (the creator's instance came too late and was dropped), claimed the slot again and ran the
/// factory a second time, in a disposed scope. Now the claim checks disposal: the factory runs
/// once, both resolves fail with `Disposed`, and the late instance's hook runs once.
///
/// The waiter is given a moment to start waiting before the scope is disposed; if it is late, it
/// finds the scope disposed, which the assertions accept too.
#[test]
fn bug4_a_waiter_woken_after_disposal_does_not_run_the_factory_again() -> TestResult {
    let log: Log = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let (started_tx, started) = mpsc::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let mut services = ServiceCollection::new();
    let factory_calls = calls.clone();
    services
        .add_scoped::<Session>(move |_| {
            if factory_calls.fetch_add(1, Ordering::SeqCst) == 0 {
                started_tx.send(())?;
                release_rx.lock().unwrap().recv_timeout(HANG)?;
            }
            Ok(Arc::new(Session))
        })
        .on_dispose(logs(&log, "session disposed"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;

    let resolve = |handle: Arc<ServiceProvider>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(handle.get::<Session>());
        });
        rx
    };
    let creator = resolve(scope.provider().get::<ServiceProvider>()?);
    started.recv_timeout(HANG)?;
    let waiter = resolve(scope.provider().get::<ServiceProvider>()?);
    std::thread::sleep(Duration::from_millis(50)); // lets the waiter start waiting

    let disposal = {
        let handle = scope.provider().get::<ServiceProvider>()?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(handle.dispose_sync());
        });
        rx
    };
    disposal.recv_timeout(HANG).expect("disposal does not wait for the creation")?;
    release.send(())?;

    let creator = creator.recv_timeout(HANG).expect("the creator returns");
    let waiter = waiter.recv_timeout(HANG).expect("the waiter returns");
    assert!(creator.as_ref().is_err_and(ResolveError::is_disposed), "created too late: {creator:?}");
    assert!(waiter.as_ref().is_err_and(ResolveError::is_disposed), "woken by a disposed scope: {waiter:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the factory ran once: nothing was created after disposal");
    assert_eq!(entries(&log), ["session disposed"], "the late instance's hook ran, once");

    assert!(scope.provider().get::<Session>().is_err_and(|e| e.is_disposed()));
    drop(scope);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "still one creation");
    assert_eq!(entries(&log), ["session disposed"], "and one hook");
    Ok(())
}

// ===== 5. a cancelled disposal =====

#[derive(Debug)]
struct First;
#[derive(Debug)]
struct Second;
#[derive(Debug)]
struct Third;

/// Bug 5: `dispose()` took every hook at once, so dropping its future mid-hook (a timeout) lost
/// the hooks not yet run, and a second `dispose()` returned `Ok` without running them. Now the
/// second call runs what is left, in reverse creation order, and reports the interrupted hook.
#[tokio::test(start_paused = true)]
async fn bug5_a_cancelled_dispose_leaves_the_remaining_hooks_to_the_next_one() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_scoped::<First>(|_| Ok(Arc::new(First))).on_dispose_async(logs_async(&log, "first"));
    let l = log.clone();
    services.add_scoped::<Second>(|_| Ok(Arc::new(Second))).on_dispose_async(move |_| {
        let log = l.clone();
        async move {
            log.lock().unwrap().push("second started");
            // The scenario itself: a hook still running when its `dispose()` is dropped (paused
            // clock: the hour never passes; the 10 ms timeout below fires first).
            tokio::time::sleep(Duration::from_secs(3600)).await;
            log.lock().unwrap().push("second finished");
            Ok(())
        }
    });
    services.add_scoped::<Third>(|_| Ok(Arc::new(Third))).on_dispose_async(logs_async(&log, "third"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<First>()?;
    scope.provider().get::<Second>()?;
    scope.provider().get::<Third>()?;

    let cancelled = tokio::time::timeout(Duration::from_millis(10), scope.dispose()).await;
    assert!(cancelled.is_err(), "the first dispose() is dropped while `Second`'s hook runs");
    assert_eq!(entries(&log), ["third", "second started"]);

    let err = within("the second dispose()", scope.dispose()).await.expect_err("it reports the interrupted hook");
    assert!(
        matches!(err.failures(), [DisposeFailure::Interrupted { service }] if *service == type_name::<Second>()),
        "{err:?}"
    );
    assert_eq!(entries(&log), ["third", "second started", "first"], "the hook left over ran, last");

    within("a third dispose()", scope.dispose()).await?;
    drop(scope);
    assert_eq!(entries(&log), ["third", "second started", "first"], "each hook ran at most once");
    Ok(())
}

// ===== 6. handles do not own the container =====

#[derive(Debug, Default)]
struct Holder {
    handles: Mutex<Vec<Arc<ServiceProvider>>>,
}

/// Bug 6: `Scope::provider()` returned a strong handle, though handles a scope gives out are
/// documented as not keeping the container alive. A singleton keeping one made an `Arc` cycle
/// (root -> singleton -> handle -> root): dropping the scope and the root never disposed the
/// root, so the singleton's hook never ran.
#[test]
fn bug6_a_singleton_keeping_a_scope_handle_does_not_keep_the_container_alive() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Holder>(|_| Ok(Arc::new(Holder::default()))).on_dispose(logs(&log, "holder disposed"));
    let provider = services.build()?;
    let holder = provider.get::<Holder>()?;
    let scope = provider.create_scope()?;
    // The handles to keep: `Scope::provider()` is a borrow, a kept handle is resolved from it.
    holder
        .handles
        .lock()
        .unwrap()
        .extend([scope.provider().get::<ServiceProvider>()?, scope.provider().resolve::<Arc<ServiceProvider>>()?]);

    drop(scope);
    drop(provider);
    assert_eq!(entries(&log), ["holder disposed"], "dropping the root disposed it, once");
    for handle in holder.handles.lock().unwrap().iter() {
        assert!(handle.get::<Holder>().is_err_and(|e| e.is_disposed()), "the kept handle outlived the container");
    }
    Ok(())
}
