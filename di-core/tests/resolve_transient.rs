//! Transients: a new instance on every resolve; disposed with the scope that created them, never
//! tracked by the root so resolving them from the root cannot grow memory (reference §1.2).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use di_core::ServiceCollection;

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Message;

// Rows 54, 56.
#[test]
fn transient_is_a_new_instance_on_every_resolve_from_the_root() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.add_transient::<Message>(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Message))
    });
    let provider = services.build()?;
    let (a, b) = (provider.get::<Message>()?, provider.get::<Message>()?);
    assert!(!Arc::ptr_eq(&a, &b), "two resolves, two instances");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the factory ran for each resolve");
    Ok(())
}

// Row 57.
#[test]
fn transient_differs_within_a_scope_and_across_root_and_scope() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_transient::<Message>(|_| Ok(Arc::new(Message)));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let (a, b) = (scope.provider().get::<Message>()?, scope.provider().get::<Message>()?);
    assert!(!Arc::ptr_eq(&a, &b), "within a scope");
    assert!(!Arc::ptr_eq(&a, &provider.get::<Message>()?), "between scope and root");
    Ok(())
}

// Row 92 (transient part).
#[test]
fn transients_resolved_in_a_scope_are_disposed_with_it() -> TestResult {
    let disposed = Arc::new(AtomicUsize::new(0));
    let seen = disposed.clone();
    let mut services = ServiceCollection::new();
    services.add_transient::<Message>(|_| Ok(Arc::new(Message))).on_dispose(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Message>()?;
    scope.provider().get::<Message>()?;
    assert_eq!(disposed.load(Ordering::SeqCst), 0, "nothing disposed while the scope lives");
    drop(scope);
    assert_eq!(disposed.load(Ordering::SeqCst), 2, "both transients disposed when the scope ends");
    Ok(())
}

#[test]
fn transients_resolved_from_the_root_are_not_tracked_by_it() -> TestResult {
    struct Buffer(#[expect(dead_code, reason = "gives the instance a size")] Vec<u8>);
    let disposed = Arc::new(AtomicUsize::new(0));
    let seen = disposed.clone();
    let mut services = ServiceCollection::new();
    services.add_transient::<Buffer>(|_| Ok(Arc::new(Buffer(vec![0; 1024])))).on_dispose(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let provider = services.build()?;
    let mut weaks: Vec<Weak<Buffer>> = Vec::new();
    for _ in 0..10_000 {
        let buffer = provider.get::<Buffer>()?;
        weaks.push(Arc::downgrade(&buffer));
    }
    assert!(
        weaks.iter().all(|w| w.upgrade().is_none()),
        "the container keeps no reference: every transient died with its caller"
    );
    provider.dispose_sync()?;
    assert_eq!(disposed.load(Ordering::SeqCst), 0, "root transients are the caller's to clean up");
    Ok(())
}

#[test]
fn transient_dependencies_resolved_from_the_root_are_not_kept_alive() -> TestResult {
    struct Part;
    struct Whole(#[expect(dead_code, reason = "holds the part like a real service would")] Arc<Part>);
    let parts: Arc<Mutex<Vec<Weak<Part>>>> = Arc::default();
    let recorded = parts.clone();
    let mut services = ServiceCollection::new();
    services
        .add_transient::<Part>(move |_| {
            let part = Arc::new(Part);
            recorded.lock().unwrap().push(Arc::downgrade(&part));
            Ok(part)
        })
        .on_dispose(|_| Ok(()));
    services.add_transient::<Whole>(|sp| Ok(Arc::new(Whole(sp.get()?))));
    let provider = services.build()?;
    for _ in 0..1_000 {
        drop(provider.get::<Whole>()?);
    }
    let parts = parts.lock().unwrap();
    assert_eq!(parts.len(), 1_000, "one part per resolve");
    assert!(parts.iter().all(|w| w.upgrade().is_none()), "no part is kept alive by the root");
    Ok(())
}
