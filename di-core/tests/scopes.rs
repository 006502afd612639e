//! Scopes: flat children of the root, created from the root, a scope or the one scope factory;
//! the provider resolves itself; disposed providers and scopes refuse to work (reference §1.1, §1.3).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use di_core::error::DisposedScope;
use di_core::{BoxError, ResolveError, ScopeFactory, ServiceCollection, ServiceProvider};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Singleton;
struct Scoped;

fn counting_hook(counter: &Arc<AtomicUsize>) -> impl Fn(&Scoped) -> Result<(), BoxError> + Send + Sync + use<> {
    let counter = counter.clone();
    move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn provider_with_scoped(disposed: &Arc<AtomicUsize>) -> Result<Arc<ServiceProvider>, di_core::BuildError> {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Singleton>(|_| Ok(Arc::new(Singleton)));
    services.add_scoped::<Scoped>(|_| Ok(Arc::new(Scoped))).on_dispose(counting_hook(disposed));
    services.build()
}

// Rows 68, 69.
#[test]
fn scope_created_from_a_scope_has_its_own_scoped_instances() -> TestResult {
    let provider = provider_with_scoped(&Arc::default())?;
    let outer = provider.create_scope()?;
    let inner = outer.provider().create_scope()?;
    assert!(!inner.provider().is_root(), "a scope of a scope is a scope");
    assert!(
        !Arc::ptr_eq(&outer.provider().get::<Scoped>()?, &inner.provider().get::<Scoped>()?),
        "each scope has its own instance"
    );
    assert!(
        Arc::ptr_eq(&outer.provider().get::<Singleton>()?, &inner.provider().get::<Singleton>()?),
        "singletons are shared"
    );
    Ok(())
}

// Row 71.
#[test]
fn scopes_are_flat_ending_the_outer_leaves_the_inner_working() -> TestResult {
    let disposed = Arc::new(AtomicUsize::new(0));
    let provider = provider_with_scoped(&disposed)?;
    let outer = provider.create_scope()?;
    let inner = outer.provider().create_scope()?;
    outer.provider().get::<Scoped>()?;
    let inner_scoped = inner.provider().get::<Scoped>()?;
    drop(outer);
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "only the outer scope's instance was disposed");
    assert!(inner.provider().get::<Singleton>().is_ok(), "the inner scope still resolves singletons");
    assert!(Arc::ptr_eq(&inner_scoped, &inner.provider().get::<Scoped>()?), "and keeps its scoped instance");
    Ok(())
}

// Rows 4, 5.
#[test]
fn scope_factory_is_one_instance_everywhere() -> TestResult {
    let provider = ServiceCollection::new().build()?;
    let from_root = provider.get::<ScopeFactory>()?;
    assert!(Arc::ptr_eq(&from_root, &provider.get::<ScopeFactory>()?), "root twice");
    let scope = provider.create_scope()?;
    assert!(Arc::ptr_eq(&from_root, &scope.provider().get::<ScopeFactory>()?), "root and scope");
    Ok(())
}

// Rows 70, 25.
#[test]
fn cached_scope_factory_makes_independent_working_scopes() -> TestResult {
    let disposed = Arc::new(AtomicUsize::new(0));
    let provider = provider_with_scoped(&disposed)?;
    let factory = provider.get::<ScopeFactory>()?;
    let outer = factory.create_scope()?;
    let inner = factory.create_scope()?;
    let (a, b) = (outer.provider().get::<Scoped>()?, inner.provider().get::<Scoped>()?);
    assert!(!Arc::ptr_eq(&a, &b));
    drop(inner);
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "ending inner disposes only inner's instance");
    assert!(Arc::ptr_eq(&a, &outer.provider().get::<Scoped>()?), "outer is untouched");
    drop(outer);
    assert_eq!(disposed.load(Ordering::SeqCst), 2, "ending outer disposes outer's instance");
    Ok(())
}

// Row 6, 7.
#[test]
fn provider_resolves_itself_without_keeping_itself_alive() -> TestResult {
    struct HoldsProvider(Arc<ServiceProvider>);
    let disposed = Arc::new(AtomicUsize::new(0));
    let seen = disposed.clone();
    let mut services = ServiceCollection::new();
    services.add_singleton::<HoldsProvider>(|sp| Ok(Arc::new(HoldsProvider(sp.get()?)))).on_dispose(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let provider = services.build()?;
    let myself = provider.get::<ServiceProvider>()?;
    assert!(myself.is_root(), "the root resolves a handle to the root");
    let holder = provider.get::<HoldsProvider>()?;
    assert!(holder.0.get::<ScopeFactory>().is_ok(), "the held handle works while the root lives");
    drop(provider);
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "the singleton holding the provider did not keep it alive");
    let err = holder.0.get::<ScopeFactory>().expect_err("the handle outlived the container");
    assert!(err.is_disposed(), "a handle that outlived the container reports Disposed: {err:?}");
    assert!(myself.create_scope().err().is_some_and(|e| e.is_disposed()), "and cannot create scopes");
    Ok(())
}

// Row 58 (the handle itself).
#[test]
fn scope_resolves_a_handle_to_itself() -> TestResult {
    let provider = provider_with_scoped(&Arc::default())?;
    let scope = provider.create_scope()?;
    let handle = scope.provider().get::<ServiceProvider>()?;
    assert!(!handle.is_root(), "the scope's handle is the scope, not the root");
    assert!(Arc::ptr_eq(&handle.get::<Scoped>()?, &scope.provider().get::<Scoped>()?), "it resolves in the same scope");
    assert!(!scope.provider().is_root(), "`provider()` is the scope too");
    let again = handle.get::<ServiceProvider>()?;
    assert!(Arc::ptr_eq(&again.get::<Scoped>()?, &handle.get::<Scoped>()?), "so is a handle resolved from the handle");
    Ok(())
}

// Rows 73, 72.
#[test]
fn disposed_root_refuses_to_resolve() -> TestResult {
    let provider = provider_with_scoped(&Arc::default())?;
    provider.get::<Singleton>()?;
    provider.dispose_sync()?;
    assert!(provider.is_disposed());
    let err = provider.get::<Singleton>().err().expect("resolving from a disposed root");
    assert!(
        matches!(err, ResolveError::Disposed { scope: DisposedScope::Root, .. }),
        "even a cached singleton is refused: {err:?}"
    );
    assert!(provider.resolve::<Option<Arc<Singleton>>>().err().is_some_and(|e| e.is_disposed()));
    assert!(provider.resolve::<Vec<Arc<Singleton>>>().err().is_some_and(|e| e.is_disposed()));
    Ok(())
}

// Row 74.
#[test]
fn disposed_root_refuses_to_create_scopes() -> TestResult {
    let provider = provider_with_scoped(&Arc::default())?;
    let factory = provider.get::<ScopeFactory>()?;
    provider.dispose_sync()?;
    assert!(provider.create_scope().err().is_some_and(|e| e.is_disposed()), "create_scope on the root");
    assert!(factory.create_scope().err().is_some_and(|e| e.is_disposed()), "through the scope factory");
    Ok(())
}

#[test]
fn scope_factory_outliving_the_root_refuses_to_create_scopes() -> TestResult {
    let provider = ServiceCollection::new().build()?;
    let factory = provider.get::<ScopeFactory>()?;
    drop(provider);
    assert!(factory.create_scope().err().is_some_and(|e| e.is_disposed()), "the root is gone");
    Ok(())
}

// Row 75.
#[test]
fn existing_scope_refuses_to_resolve_after_the_root_is_disposed() -> TestResult {
    let provider = provider_with_scoped(&Arc::default())?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Scoped>()?;
    provider.dispose_sync()?;
    assert!(scope.provider().is_disposed(), "a scope of a disposed root counts as disposed");
    assert!(scope.provider().get::<Scoped>().err().is_some_and(|e| e.is_disposed()), "even its cached scoped service");
    assert!(scope.provider().get::<Singleton>().err().is_some_and(|e| e.is_disposed()));
    assert!(scope.provider().create_scope().err().is_some_and(|e| e.is_disposed()), "nor can it create scopes");
    Ok(())
}

// Row 76.
#[test]
fn disposed_scope_refuses_to_resolve_while_the_root_keeps_working() -> TestResult {
    let provider = provider_with_scoped(&Arc::default())?;
    let scope = provider.create_scope()?;
    let handle = scope.provider().get::<ServiceProvider>()?;
    scope.provider().dispose_sync()?;
    let err = scope.provider().get::<Scoped>().err().expect("resolving from a disposed scope");
    assert!(matches!(err, ResolveError::Disposed { scope: DisposedScope::Scope, .. }), "{err:?}");
    assert!(handle.get::<Singleton>().err().is_some_and(|e| e.is_disposed()), "handles to it too");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot resolve `{}`: the scope has been disposed; resolve from a live provider or scope",
            std::any::type_name::<Scoped>()
        )
    );
    let fresh = provider.create_scope()?;
    assert!(fresh.provider().get::<Scoped>().is_ok(), "the root still creates working scopes");
    Ok(())
}

// Row 83.
#[test]
fn disposing_a_scope_twice_is_harmless() -> TestResult {
    let disposed = Arc::new(AtomicUsize::new(0));
    let provider = provider_with_scoped(&disposed)?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Scoped>()?;
    scope.provider().dispose_sync()?;
    scope.provider().dispose_sync()?;
    drop(scope);
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "disposed once, whatever the number of calls");
    Ok(())
}

#[tokio::test]
async fn scope_created_through_the_factory_can_be_disposed_asynchronously() -> TestResult {
    let disposed = Arc::new(AtomicUsize::new(0));
    let provider = provider_with_scoped(&disposed)?;
    let scope = provider.get::<ScopeFactory>()?.create_scope()?;
    scope.provider().get::<Scoped>()?;
    scope.dispose().await?;
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "a sync-only hook still runs on the async path");
    assert!(scope.provider().is_disposed());
    Ok(())
}

// Row 120.
#[test]
fn singleton_may_hold_the_scope_factory_and_create_scopes_later() -> TestResult {
    struct Worker(Arc<ScopeFactory>);
    let disposed = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add_singleton::<Worker>(|sp| Ok(Arc::new(Worker(sp.get()?))));
    services.add_scoped::<Scoped>(|_| Ok(Arc::new(Scoped))).on_dispose(counting_hook(&disposed));
    let provider = services.build()?;
    let worker = provider.get::<Worker>()?;
    for _ in 0..3 {
        let scope = worker.0.create_scope()?;
        scope.provider().get::<Scoped>()?;
    }
    assert_eq!(disposed.load(Ordering::SeqCst), 3, "each unit of work had its own scope");
    Ok(())
}
