//! Factories: closures that get the provider they are resolved through, build any value or
//! trait object, run lazily, honour their lifetime inside a graph, and report failures with the
//! service and path (reference §1.1 rows 12, 29, 31; §1.5).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use di_core::{ResolveError, ServiceCollection, ServiceProvider};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Singleton;
struct Scoped;
struct Transient;
struct Graph {
    singleton: Arc<Singleton>,
    scoped: Arc<Scoped>,
    transient: Arc<Transient>,
}

fn graph_provider() -> Result<Arc<ServiceProvider>, di_core::BuildError> {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Singleton>(|_| Ok(Arc::new(Singleton)));
    services.add_scoped::<Scoped>(|_| Ok(Arc::new(Scoped)));
    services.add_transient::<Transient>(|_| Ok(Arc::new(Transient)));
    services.add_transient::<Graph>(|sp| {
        Ok(Arc::new(Graph { singleton: sp.get()?, scoped: sp.get()?, transient: sp.get()? }))
    });
    services.build()
}

// Rows 61, 89, 90.
#[test]
fn factories_in_one_graph_honour_each_lifetime() -> TestResult {
    let provider = graph_provider()?;
    let (one, two) = (provider.create_scope()?, provider.create_scope()?);
    let (a, b, c) = (one.provider().get::<Graph>()?, one.provider().get::<Graph>()?, two.provider().get::<Graph>()?);
    assert!(!Arc::ptr_eq(&a, &b), "the transient graph is new each time");
    assert!(Arc::ptr_eq(&a.singleton, &c.singleton), "one singleton for every graph");
    assert!(Arc::ptr_eq(&a.scoped, &b.scoped), "one scoped instance per scope");
    assert!(!Arc::ptr_eq(&a.scoped, &c.scoped), "and another in another scope");
    assert!(!Arc::ptr_eq(&a.transient, &b.transient), "a new transient in each graph");
    Ok(())
}

#[test]
fn factories_run_lazily_on_first_resolve_only() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Singleton>(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Singleton))
    });
    let provider = services.build()?;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "build() runs no factory");
    assert!(provider.contains::<Singleton>(), "asking whether it is a service runs none either");
    provider.get::<Singleton>()?;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the first resolve runs it");
    Ok(())
}

// Row 12 (restated).
#[test]
fn factory_may_probe_optional_dependencies() -> TestResult {
    struct Metrics;
    struct Service(Option<Arc<Metrics>>);
    let mut services = ServiceCollection::new();
    services.add_singleton::<Service>(|sp| Ok(Arc::new(Service(sp.resolve()?))));
    let without = services.build()?;
    assert!(without.get::<Service>()?.0.is_none(), "an unregistered optional dependency is None");
    let mut services = ServiceCollection::new();
    services.add_singleton::<Service>(|sp| Ok(Arc::new(Service(sp.resolve()?))));
    services.add_singleton::<Metrics>(|_| Ok(Arc::new(Metrics)));
    let with = services.build()?;
    assert!(with.get::<Service>()?.0.is_some(), "a registered one is resolved");
    Ok(())
}

#[test]
fn optional_lookup_still_reports_a_broken_registration() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Singleton>(|_| Err("misconfigured".into()));
    let provider = services.build()?;
    let err = provider.resolve::<Option<Arc<Singleton>>>().err().expect("registered but broken is an error, not None");
    assert!(matches!(err, ResolveError::Factory { .. }), "{err:?}");
    Ok(())
}

// Rows 29, 31.
#[test]
fn dependency_factory_error_names_the_failing_service_and_the_path() -> TestResult {
    struct Api;
    struct Repo;
    struct Db;
    let mut services = ServiceCollection::new();
    services.add_transient::<Api>(|sp| {
        sp.get::<Repo>()?;
        Ok(Arc::new(Api))
    });
    services.add_transient::<Repo>(|sp| {
        sp.get::<Db>()?;
        Ok(Arc::new(Repo))
    });
    services.add_singleton::<Db>(|_| Err("connection refused".into()));
    let provider = services.build()?;
    let err = provider.get::<Api>().err().expect("Db fails");
    let ResolveError::Factory { service, path, source } = &err else { panic!("expected Factory, got {err:?}") };
    assert_eq!(*service, std::any::type_name::<Db>(), "the failing factory's service");
    assert_eq!(path.services(), [std::any::type_name::<Api>(), std::any::type_name::<Repo>()], "who needed it");
    assert_eq!(source.to_string(), "connection refused");
    assert_eq!(
        err.to_string(),
        format!(
            "factory for `{}` failed (required by `{}` -> `{}`); see the source error",
            std::any::type_name::<Db>(),
            std::any::type_name::<Api>(),
            std::any::type_name::<Repo>()
        )
    );
    Ok(())
}

#[test]
fn factory_keeping_the_provider_resolves_later_what_it_could_not_resolve_while_built() -> TestResult {
    struct Publisher(Arc<ServiceProvider>);
    struct Subscriber(#[expect(dead_code, reason = "the dependency that closes the loop")] Arc<Publisher>);
    let mut services = ServiceCollection::new();
    services.add_singleton::<Publisher>(|sp| Ok(Arc::new(Publisher(sp.get()?))));
    services.add_singleton::<Subscriber>(|sp| Ok(Arc::new(Subscriber(sp.get()?))));
    let provider = services.build()?;
    let publisher = provider.get::<Publisher>()?;
    let subscriber = publisher.0.get::<Subscriber>()?;
    assert!(Arc::ptr_eq(&subscriber, &provider.get::<Subscriber>()?), "resolved later, no cycle");
    Ok(())
}

#[test]
fn factory_can_build_values_trait_objects_and_shared_arcs() -> TestResult {
    trait Clock: Send + Sync {
        fn now(&self) -> u64;
    }
    struct Fixed(u64);
    impl Clock for Fixed {
        fn now(&self) -> u64 {
            self.0
        }
    }
    let shared = Arc::new(String::from("shared"));
    let handed_out = shared.clone();
    let mut services = ServiceCollection::new();
    services.add_transient::<dyn Clock>(|_| Ok(Arc::new(Fixed(42)) as Arc<dyn Clock>));
    services.add_transient::<String>(move |_| Ok(handed_out.clone()));
    services.add_transient::<[u8; 3]>(|_| Ok(Arc::new([1, 2, 3])));
    let provider = services.build()?;
    assert_eq!(provider.get::<dyn Clock>()?.now(), 42);
    assert!(Arc::ptr_eq(&provider.get::<String>()?, &shared), "a factory may hand out an Arc it keeps");
    assert_eq!(*provider.get::<[u8; 3]>()?, [1, 2, 3]);
    Ok(())
}
