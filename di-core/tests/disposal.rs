//! Synchronous disposal: hooks of what the container created run in reverse creation order,
//! exactly once, when the scope ends (explicitly or dropped) or the root is disposed; user
//! instances are never disposed; failures are collected, not fatal (reference §1.0-8/9/10, §1.6).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use di_core::error::DisposedScope;
use di_core::{BoxError, Dispose, DisposeFailure, Lifetime, ResolveError, ServiceCollection, ServiceProvider, Source};

mod support;

use support::{Log, entries, logs, logs_async};

type TestResult = Result<(), Box<dyn std::error::Error>>;
struct Named;

/// Services with one type per registration so each can get its own hook.
struct Singleton;
struct Scoped;
struct Transient;

// Row 92.
#[test]
fn scope_disposes_its_scoped_and_transient_services_and_root_its_singletons() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Singleton>(|_| Ok(Arc::new(Singleton))).on_dispose(logs(&log, "singleton"));
    services.add_scoped::<Scoped>(|_| Ok(Arc::new(Scoped))).on_dispose(logs(&log, "scoped"));
    services.add_transient::<Transient>(|_| Ok(Arc::new(Transient))).on_dispose(logs(&log, "transient"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Singleton>()?;
    scope.provider().get::<Scoped>()?;
    scope.provider().get::<Transient>()?;
    scope.provider().get::<Transient>()?;
    scope.provider().dispose_sync()?;
    assert_eq!(entries(&log), ["transient", "transient", "scoped"], "the scope disposes what it created");
    provider.dispose_sync()?;
    assert_eq!(entries(&log), ["transient", "transient", "scoped", "singleton"], "the root disposes the singleton");
    Ok(())
}

// Row 93.
#[test]
fn disposal_runs_in_reverse_creation_order_dependencies_last() -> TestResult {
    struct Outer;
    struct Dep1;
    struct Dep2;
    struct Dep3;
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    macro_rules! hooked {
        ($add:ident, $ty:ident, $name:literal, $factory:expr) => {{
            services.$add::<$ty>($factory).on_dispose(logs(&log, $name));
        }};
    }
    hooked!(add_singleton, Singleton, "singleton", |_| Ok(Arc::new(Singleton)));
    hooked!(add_transient, Dep1, "dep1", |sp| {
        sp.get::<Singleton>()?;
        Ok(Arc::new(Dep1))
    });
    hooked!(add_transient, Dep2, "dep2", |_| Ok(Arc::new(Dep2)));
    hooked!(add_transient, Dep3, "dep3", |_| Ok(Arc::new(Dep3)));
    hooked!(add_scoped, Outer, "outer", |sp| {
        sp.get::<Dep1>()?;
        sp.get::<Dep2>()?;
        sp.get::<Dep3>()?;
        Ok(Arc::new(Outer))
    });
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Outer>()?;
    drop(scope);
    assert_eq!(entries(&log), ["outer", "dep3", "dep2", "dep1"], "dependents first, then their deps in reverse");
    provider.dispose_sync()?;
    assert_eq!(entries(&log).last(), Some(&"singleton"), "the singleton dep goes with the root");
    Ok(())
}

#[test]
fn root_disposes_singletons_in_reverse_creation_order() -> TestResult {
    struct First;
    struct Second;
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_singleton::<First>(|_| Ok(Arc::new(First))).on_dispose(logs(&log, "first"));
    services
        .add_singleton::<Second>(|sp| {
            sp.get::<First>()?;
            Ok(Arc::new(Second))
        })
        .on_dispose(logs(&log, "second"));
    let provider = services.build()?;
    provider.get::<Second>()?;
    drop(provider);
    assert_eq!(entries(&log), ["second", "first"], "dropping the root disposes, newest first");
    Ok(())
}

// Rows 64, 66, 8.
#[test]
fn user_instances_are_never_disposed() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(Named)).on_dispose(logs(&log, "instance"));
    services.keyed("k").add(Lifetime::Singleton, Source::instance(Named)).on_dispose(logs(&log, "keyed instance"));
    let provider = services.build()?;
    provider.get::<Named>()?;
    provider.keyed(&"k").get::<Named>()?;
    provider.dispose_sync()?;
    assert!(entries(&log).is_empty(), "the container did not create them, so it does not dispose them");
    Ok(())
}

#[test]
fn hooks_run_exactly_once_whatever_ends_the_scope() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_scoped::<Named>(|_| Ok(Arc::new(Named))).on_dispose(logs(&log, "scoped"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Named>()?;
    scope.provider().dispose_sync()?;
    scope.provider().dispose_sync()?;
    drop(scope);
    let dropped = provider.create_scope()?;
    dropped.provider().get::<Named>()?;
    dropped.provider().get::<Named>()?;
    drop(dropped);
    provider.dispose_sync()?;
    provider.dispose_sync()?;
    assert_eq!(entries(&log), ["scoped", "scoped"], "once per instance: explicit dispose, then drop");
    Ok(())
}

#[test]
fn dispose_trait_is_used_as_the_hook() -> TestResult {
    struct Pool(AtomicUsize);
    impl Dispose for Pool {
        type Error = BoxError;
        fn dispose(&self) -> Result<(), BoxError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }
    let mut services = ServiceCollection::new();
    services.add_singleton::<Pool>(|_| Ok(Arc::new(Pool(AtomicUsize::new(0))))).disposable();
    let provider = services.build()?;
    let pool = provider.get::<Pool>()?;
    provider.dispose_sync()?;
    assert_eq!(pool.0.load(Ordering::SeqCst), 1, "Dispose::dispose ran once");
    Ok(())
}

#[test]
fn failing_and_panicking_hooks_do_not_stop_the_others_and_are_all_reported() -> TestResult {
    struct Fails;
    struct Panics;
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_scoped::<Named>(|_| Ok(Arc::new(Named))).on_dispose(logs(&log, "first created"));
    services.add_scoped::<Fails>(|_| Ok(Arc::new(Fails))).on_dispose(|_| Err("socket closed".into()));
    services.add_scoped::<Panics>(|_| Ok(Arc::new(Panics))).on_dispose(|_| panic!("hook exploded"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Named>()?;
    scope.provider().get::<Fails>()?;
    scope.provider().get::<Panics>()?;
    let err = scope.provider().dispose_sync().expect_err("two hooks failed");
    assert_eq!(entries(&log), ["first created"], "the healthy hook still ran");
    match err.failures() {
        [DisposeFailure::Panicked { service: p, message }, DisposeFailure::Failed { service: f, source }] => {
            assert_eq!((*p, message.as_str()), (std::any::type_name::<Panics>(), "hook exploded"));
            assert_eq!((*f, source.to_string().as_str()), (std::any::type_name::<Fails>(), "socket closed"));
        }
        other => panic!("expected [Panicked, Failed] in the order the hooks ran, got {other:?}"),
    }
    assert!(err.to_string().starts_with("2 disposal hooks failed: "), "{err}");
    assert!(scope.provider().is_disposed(), "the scope is disposed even though hooks failed");
    Ok(())
}

// Row 97, 101.
#[test]
fn sync_disposal_of_an_async_only_service_reports_it_without_blocking() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Named>(|_| Ok(Arc::new(Named))).on_dispose_async(logs_async(&log, "async hook"));
    let provider = services.build()?;
    provider.get::<Named>()?;
    let err = provider.dispose_sync().expect_err("an async-only hook cannot run synchronously");
    assert!(
        matches!(err.failures(), [DisposeFailure::AsyncOnly { service }] if *service == std::any::type_name::<Named>()),
        "{err:?}"
    );
    assert!(err.to_string().contains("dispose the container with `dispose().await`"), "{err}");
    assert!(entries(&log).is_empty(), "the async hook was not run");
    Ok(())
}

// Rows 96, 100.
#[test]
fn sync_disposal_runs_the_sync_hook_of_a_service_with_both() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services
        .add_scoped::<Named>(|_| Ok(Arc::new(Named)))
        .on_dispose(logs(&log, "sync"))
        .on_dispose_async(logs_async(&log, "async"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Named>()?;
    scope.provider().dispose_sync()?;
    assert_eq!(entries(&log), ["sync"]);
    Ok(())
}

// Row 108, 110.
#[test]
fn singleton_created_by_a_factory_that_disposes_the_provider_is_disposed_and_refused() -> TestResult {
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services
        .add_singleton::<Named>(|sp| {
            sp.provider()?.dispose_sync()?;
            Ok(Arc::new(Named))
        })
        .on_dispose(logs(&log, "disposed at once"));
    let provider = services.build()?;
    let err = provider.get::<Named>().err().expect("the provider was disposed mid-creation");
    assert!(err.is_disposed(), "{err:?}");
    assert_eq!(entries(&log), ["disposed at once"], "the new instance's hook ran immediately");
    assert!(provider.get::<Named>().err().is_some_and(|e| e.is_disposed()), "and the provider stays disposed");
    Ok(())
}

// Reference §1.0-10 (C15-C17): a scope disposed on another thread while one of its services is
// being created.
#[test]
fn instance_created_while_its_scope_is_disposed_is_disposed_at_once_and_refused() -> TestResult {
    let log: Log = Arc::default();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let mut services = ServiceCollection::new();
    services
        .add_scoped::<Named>(move |_| {
            entered_tx.send(())?;
            release_rx.lock().unwrap().recv()?;
            Ok(Arc::new(Named))
        })
        .on_dispose(logs(&log, "late instance"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let result = thread::scope(|s| {
        let resolving = s.spawn(|| scope.provider().get::<Named>().map(drop));
        entered_rx.recv().expect("the factory started");
        scope.provider().dispose_sync().expect("nothing to dispose yet");
        release_tx.send(()).expect("the factory waits");
        resolving.join().expect("resolver thread panicked")
    });
    let err = result.expect_err("the scope ended during creation");
    assert!(matches!(err, ResolveError::Disposed { scope: DisposedScope::Scope, .. }), "{err:?}");
    assert_eq!(entries(&log), ["late instance"], "the late instance was disposed once, immediately");
    Ok(())
}

#[test]
fn dropping_the_root_owner_disposes_once_even_while_handles_and_scopes_live() -> TestResult {
    #[derive(Debug)]
    struct HoldsProvider(Arc<ServiceProvider>);
    let log: Log = Arc::default();
    let mut services = ServiceCollection::new();
    services
        .add_singleton::<HoldsProvider>(|sp| Ok(Arc::new(HoldsProvider(sp.get()?))))
        .on_dispose(logs(&log, "holder"));
    let provider = services.build()?;
    let holder = provider.get::<HoldsProvider>()?;
    let scope = provider.create_scope()?;
    drop(provider);
    assert_eq!(entries(&log), ["holder"], "the owner is gone: singletons disposed, no Arc cycle kept them");
    let err = scope.provider().get::<HoldsProvider>().expect_err("the root has ended");
    assert!(matches!(err, ResolveError::Disposed { scope: DisposedScope::Root, .. }), "{err:?}");
    assert!(holder.0.get::<HoldsProvider>().unwrap_err().is_disposed(), "the handle a singleton kept, too");
    drop(scope);
    assert_eq!(entries(&log), ["holder"], "disposed exactly once");
    Ok(())
}
