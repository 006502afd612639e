//! Singletons: one instance per root provider, created from the root even when first asked for
//! in a scope, and retried after a failing or panicking factory (reference §1.2, §1.5).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use di_core::{Lifetime, ResolveError, ServiceCollection, ServiceProvider, Source};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Service;

/// A provider with a singleton `Service` whose disposal hook counts into `disposed`.
fn disposable_singleton(disposed: &Arc<AtomicUsize>) -> Result<Arc<ServiceProvider>, di_core::BuildError> {
    let seen = disposed.clone();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Service>(|_| Ok(Arc::new(Service))).on_dispose(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    services.build()
}

// Rows 3, 55.
#[test]
fn singleton_is_one_instance_for_every_resolve() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Service>(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Service))
    });
    let provider = services.build()?;
    let first = provider.get::<Service>()?;
    assert!(Arc::ptr_eq(&first, &provider.get::<Service>()?), "second resolve returns the same instance");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "factory ran once");
    Ok(())
}

// Row 60.
#[test]
fn singleton_is_shared_by_every_scope_and_outlives_them() -> TestResult {
    let disposed = Arc::new(AtomicUsize::new(0));
    let provider = disposable_singleton(&disposed)?;
    let one = provider.create_scope()?;
    let two = provider.create_scope()?;
    let from_one = one.provider().get::<Service>()?;
    assert!(Arc::ptr_eq(&from_one, &two.provider().get::<Service>()?), "both scopes share the singleton");
    assert!(Arc::ptr_eq(&from_one, &provider.get::<Service>()?), "and so does the root");
    one.provider().dispose_sync()?;
    drop(two);
    assert_eq!(disposed.load(Ordering::SeqCst), 0, "ending scopes does not dispose a singleton");
    provider.dispose_sync()?;
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "the root disposes it");
    Ok(())
}

// Row 59.
#[test]
fn singleton_factory_receives_the_root_even_when_first_resolved_in_a_scope() -> TestResult {
    struct SeenProvider {
        was_root: bool,
        handle: Arc<ServiceProvider>,
    }
    let mut services = ServiceCollection::new();
    services.add_singleton::<SeenProvider>(|sp| {
        Ok(Arc::new(SeenProvider { was_root: sp.provider()?.is_root(), handle: sp.get::<ServiceProvider>()? }))
    });
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let seen = scope.provider().get::<SeenProvider>()?;
    assert!(seen.was_root, "the factory's provider is the root");
    assert!(seen.handle.is_root(), "the provider it resolves for itself is the root too");
    drop(scope);
    assert!(!seen.handle.is_disposed(), "so it stays usable after the scope ends");
    Ok(())
}

// Row 59 (consequence).
#[test]
fn singleton_factory_resolving_a_scoped_service_is_captured_scoped_naming_both() -> TestResult {
    struct Cache;
    struct RequestId;
    let mut services = ServiceCollection::new();
    services.add_scoped::<RequestId>(|_| Ok(Arc::new(RequestId)));
    services.add_singleton::<Cache>(|sp| {
        sp.get::<RequestId>()?;
        Ok(Arc::new(Cache))
    });
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let err = scope.provider().get::<Cache>().err().expect("the resolve should fail");
    let ResolveError::CapturedScoped { singleton, scoped, path } = &err else {
        panic!("expected CapturedScoped, got {err:?}");
    };
    assert_eq!(*singleton, std::any::type_name::<Cache>());
    assert_eq!(*scoped, std::any::type_name::<RequestId>());
    assert_eq!(path.services(), [std::any::type_name::<Cache>()], "the path leads from the singleton");
    assert!(err.to_string().contains("captures scoped service"), "{err}");
    Ok(())
}

// Row 65.
#[test]
fn factory_singleton_is_disposed_with_the_root() -> TestResult {
    let disposed = Arc::new(AtomicUsize::new(0));
    let provider = disposable_singleton(&disposed)?;
    provider.get::<Service>()?;
    drop(provider);
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "dropping the root disposes its singletons");
    Ok(())
}

#[test]
fn singleton_never_resolved_is_never_created_nor_disposed() -> TestResult {
    let mut services = ServiceCollection::new();
    let events = Arc::new(AtomicUsize::new(0));
    let (created, disposed) = (events.clone(), events.clone());
    services
        .add_singleton::<Service>(move |_| {
            created.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::new(Service))
        })
        .on_dispose(move |_| {
            disposed.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    services.build()?.dispose_sync()?;
    assert_eq!(events.load(Ordering::SeqCst), 0, "lazy: nothing created, nothing to dispose");
    Ok(())
}

#[test]
fn failing_singleton_factory_is_retried_on_the_next_resolve() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Service>(move |_| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 { Err("not yet".into()) } else { Ok(Arc::new(Service)) }
    });
    let provider = services.build()?;
    let err = provider.get::<Service>().err().expect("the resolve should fail");
    assert!(matches!(err, ResolveError::Factory { .. }), "first attempt fails: {err:?}");
    let first = provider.get::<Service>()?;
    assert!(Arc::ptr_eq(&first, &provider.get::<Service>()?), "the retry's instance is then cached");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one failed run, one successful run");
    Ok(())
}

#[test]
fn panicking_singleton_factory_is_reported_and_the_container_stays_usable() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(5u8));
    services.add_singleton::<Service>(move |_| {
        assert!(counted.fetch_add(1, Ordering::SeqCst) > 0, "first call panics");
        Ok(Arc::new(Service))
    });
    let provider = services.build()?;
    let err = provider.get::<Service>().err().expect("the resolve should fail");
    let ResolveError::FactoryPanicked { service, message, .. } = &err else {
        panic!("expected FactoryPanicked, got {err:?}");
    };
    assert_eq!(*service, std::any::type_name::<Service>());
    assert_eq!(message, "first call panics", "the panic message is kept");
    assert_eq!(*provider.get::<u8>()?, 5, "other services still resolve");
    assert!(provider.get::<Service>().is_ok(), "the next resolve retries and succeeds");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    Ok(())
}

#[test]
fn nested_resolve_error_passes_through_a_factory_unchanged() -> TestResult {
    struct Outer;
    struct Inner;
    struct Missing;
    let mut services = ServiceCollection::new();
    services.add_singleton::<Outer>(|sp| {
        sp.get::<Inner>()?;
        Ok(Arc::new(Outer))
    });
    services.add_singleton::<Inner>(|sp| {
        sp.get::<Missing>()?;
        Ok(Arc::new(Inner))
    });
    let provider = services.build()?;
    let err = provider.get::<Outer>().err().expect("the resolve should fail");
    let ResolveError::NotRegistered { service, path, .. } = &err else {
        panic!("expected the nested NotRegistered, got {err:?}");
    };
    assert_eq!(*service, std::any::type_name::<Missing>());
    assert_eq!(path.services(), [std::any::type_name::<Outer>(), std::any::type_name::<Inner>()]);
    Ok(())
}
