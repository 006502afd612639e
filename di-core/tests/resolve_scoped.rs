//! Scoped services: one instance per scope, built with the scope's provider, refused from the
//! root unless scope validation is off (reference §1.2, §1.3, §1.7 rows checked at resolve time).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use di_core::{ProviderOptions, ResolveError, ServiceCollection, ServiceProvider};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct UnitOfWork;

// Row 67.
#[test]
fn scoped_service_is_one_instance_per_scope() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.add_scoped::<UnitOfWork>(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(UnitOfWork))
    });
    let provider = services.build()?;
    let one = provider.create_scope()?;
    let two = provider.create_scope()?;
    let a = one.provider().get::<UnitOfWork>()?;
    assert!(Arc::ptr_eq(&a, &one.provider().get::<UnitOfWork>()?), "same scope, same instance");
    assert!(!Arc::ptr_eq(&a, &two.provider().get::<UnitOfWork>()?), "another scope, another instance");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one creation per scope");
    Ok(())
}

// Row 58.
#[test]
fn scoped_and_transient_factories_receive_the_requesting_scope() -> TestResult {
    struct RequestId;
    struct Handler {
        request: Arc<RequestId>,
    }
    struct Controller {
        request: Arc<RequestId>,
    }
    let mut services = ServiceCollection::new();
    services.add_scoped::<RequestId>(|_| Ok(Arc::new(RequestId)));
    services.add_scoped::<Handler>(|sp| {
        let own = sp.get::<ServiceProvider>()?;
        Ok(Arc::new(Handler { request: own.get()? }))
    });
    services.add_transient::<Controller>(|sp| Ok(Arc::new(Controller { request: sp.get()? })));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let request = scope.provider().get::<RequestId>()?;
    assert!(Arc::ptr_eq(&scope.provider().get::<Handler>()?.request, &request), "scoped factory resolves in the scope");
    assert!(
        Arc::ptr_eq(&scope.provider().get::<Controller>()?.request, &request),
        "transient factory resolves in the scope"
    );
    let other = provider.create_scope()?;
    assert!(
        !Arc::ptr_eq(&other.provider().get::<Controller>()?.request, &request),
        "another scope, its own dependency"
    );
    Ok(())
}

// Rows 115, 116.
#[test]
fn scoped_service_from_the_root_is_refused_by_default() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_scoped::<UnitOfWork>(|_| Ok(Arc::new(UnitOfWork)));
    let provider = services.build()?;
    for _ in 0..2 {
        let err = provider.get::<UnitOfWork>().err().expect("the resolve should fail");
        let ResolveError::ScopedFromRoot { service, path } = &err else {
            panic!("expected ScopedFromRoot, got {err:?}");
        };
        assert_eq!(*service, std::any::type_name::<UnitOfWork>());
        assert!(path.is_empty(), "asked for directly");
        assert!(err.to_string().contains("resolve it from a scope created with `create_scope()`"), "{err}");
    }
    Ok(())
}

// Row 117.
#[test]
fn transient_from_the_root_that_needs_a_scoped_service_is_refused_naming_both() -> TestResult {
    struct Report;
    let mut services = ServiceCollection::new();
    services.add_scoped::<UnitOfWork>(|_| Ok(Arc::new(UnitOfWork)));
    services.add_transient::<Report>(|sp| {
        sp.get::<UnitOfWork>()?;
        Ok(Arc::new(Report))
    });
    let provider = services.build()?;
    let err = provider.get::<Report>().err().expect("the resolve should fail");
    let ResolveError::ScopedFromRoot { service, path } = &err else {
        panic!("expected ScopedFromRoot, got {err:?}");
    };
    assert_eq!(*service, std::any::type_name::<UnitOfWork>(), "the scoped service is named");
    assert_eq!(path.services(), [std::any::type_name::<Report>()], "and the service that required it");
    assert!(provider.create_scope()?.provider().get::<Report>().is_ok(), "from a scope it works");
    Ok(())
}

// Row 118.
#[test]
fn only_the_last_registration_decides_whether_a_root_resolve_is_scoped() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_scoped::<u32>(|_| Ok(Arc::new(1)));
    services.add_singleton::<u32>(|_| Ok(Arc::new(2)));
    let provider = services.build()?;
    assert_eq!(*provider.get::<u32>()?, 2, "the last registration is a singleton: fine from the root");
    assert!(
        matches!(provider.resolve::<Vec<Arc<u32>>>(), Err(ResolveError::ScopedFromRoot { .. })),
        "but the whole list includes the scoped one"
    );
    Ok(())
}

// Rows 114, 113.
#[test]
fn scoped_through_singleton_is_captured_even_from_inside_a_scope() -> TestResult {
    struct Outer;
    struct Cache;
    struct Inner;
    let mut services = ServiceCollection::new();
    services.add_scoped::<Outer>(|sp| {
        sp.get::<Cache>()?;
        Ok(Arc::new(Outer))
    });
    services.add_singleton::<Cache>(|sp| {
        sp.get::<Inner>()?;
        Ok(Arc::new(Cache))
    });
    services.add_transient::<Inner>(|sp| {
        sp.get::<UnitOfWork>()?;
        Ok(Arc::new(Inner))
    });
    services.add_scoped::<UnitOfWork>(|_| Ok(Arc::new(UnitOfWork)));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let err = scope.provider().get::<Outer>().err().expect("the resolve should fail");
    let ResolveError::CapturedScoped { singleton, scoped, path } = &err else {
        panic!("expected CapturedScoped, got {err:?}");
    };
    assert_eq!(*singleton, std::any::type_name::<Cache>(), "the nearest singleton is named");
    assert_eq!(*scoped, std::any::type_name::<UnitOfWork>());
    assert_eq!(
        path.services(),
        [std::any::type_name::<Outer>(), std::any::type_name::<Cache>(), std::any::type_name::<Inner>()],
        "full path down to the scoped service"
    );
    Ok(())
}

// Rows 4, 61, 62.
#[test]
fn without_scope_validation_the_root_acts_as_a_scope() -> TestResult {
    let mut services = ServiceCollection::new();
    let disposed = Arc::new(AtomicUsize::new(0));
    let seen = disposed.clone();
    services.add_scoped::<UnitOfWork>(|_| Ok(Arc::new(UnitOfWork))).on_dispose(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let provider = services.build_with(ProviderOptions::default().validate_scopes(false))?;
    let first = provider.get::<UnitOfWork>()?;
    for _ in 0..10 {
        assert!(Arc::ptr_eq(&first, &provider.get::<UnitOfWork>()?), "cached for the root's life");
    }
    let scope = provider.create_scope()?;
    assert!(!Arc::ptr_eq(&first, &scope.provider().get::<UnitOfWork>()?), "a real scope still has its own");
    drop(scope);
    assert_eq!(disposed.load(Ordering::SeqCst), 1, "the scope disposed its own instance");
    provider.dispose_sync()?;
    assert_eq!(disposed.load(Ordering::SeqCst), 2, "the root disposes the root-scoped instance");
    Ok(())
}

#[test]
fn without_scope_validation_a_singleton_may_capture_a_scoped_service() -> TestResult {
    struct Cache(Arc<UnitOfWork>);
    let mut services = ServiceCollection::new();
    services.add_scoped::<UnitOfWork>(|_| Ok(Arc::new(UnitOfWork)));
    services.add_singleton::<Cache>(|sp| Ok(Arc::new(Cache(sp.get()?))));
    let provider = services.build_with(ProviderOptions::default().validate_scopes(false))?;
    let scope = provider.create_scope()?;
    let cache = scope.provider().get::<Cache>()?;
    assert!(Arc::ptr_eq(&cache.0, &provider.get::<UnitOfWork>()?), "it captured the root's instance");
    Ok(())
}

#[test]
fn failing_scoped_factory_is_retried_within_the_same_scope() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.add_scoped::<UnitOfWork>(move |_| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 { Err("flaky".into()) } else { Ok(Arc::new(UnitOfWork)) }
    });
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    assert!(matches!(scope.provider().get::<UnitOfWork>(), Err(ResolveError::Factory { .. })), "first run fails");
    let ok = scope.provider().get::<UnitOfWork>()?;
    assert!(Arc::ptr_eq(&ok, &scope.provider().get::<UnitOfWork>()?), "the retried instance is cached in the scope");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    Ok(())
}
