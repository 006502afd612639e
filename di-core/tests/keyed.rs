//! Keyed services: any `Eq + Hash` key (strings, enums, numbers), one cache slot per
//! registration, never mixed with unkeyed lookups (reference §1.1 rows 26-28, §1.9).

use std::sync::Arc;

use di_core::{Lifetime, ResolveError, ScopeFactory, ServiceCollection, ServiceProvider};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Region {
    Eu,
    Us,
}

struct Endpoint(&'static str);

fn endpoint(lifetime: Lifetime, key: Region, url: &'static str, services: &mut ServiceCollection) {
    services.add_keyed::<Endpoint, _>(lifetime, key, move |_| Ok(Arc::new(Endpoint(url))));
}

// Rows K2, K27, K30.
#[test]
fn each_key_resolves_its_own_singleton() -> TestResult {
    let mut services = ServiceCollection::new();
    endpoint(Lifetime::Singleton, Region::Eu, "eu", &mut services);
    endpoint(Lifetime::Singleton, Region::Us, "us", &mut services);
    let provider = services.build()?;
    let eu = provider.get_keyed::<Endpoint, _>(&Region::Eu)?;
    assert_eq!(eu.0, "eu");
    assert_eq!(provider.get_keyed::<Endpoint, _>(&Region::Us)?.0, "us");
    assert!(Arc::ptr_eq(&eu, &provider.get_keyed::<Endpoint, _>(&Region::Eu)?), "a keyed singleton is cached");
    assert!(provider.get_optional::<Endpoint>()?.is_none(), "keyed registrations do not answer unkeyed lookups");
    Ok(())
}

// Rows K6, K15, K12 (duplicate keys without AnyKey).
#[test]
fn get_all_keyed_lists_that_key_only_in_registration_order() -> TestResult {
    let mut services = ServiceCollection::new();
    services
        .add_keyed_singleton_instance("db", 1u32)
        .add_keyed_singleton_instance("cache", 10u32)
        .add_keyed_transient::<u32, _>("db", |_| Ok(Arc::new(2)))
        .add_singleton_instance(100u32)
        .add_keyed_singleton_instance("db", 3u32);
    let provider = services.build()?;
    let db: Vec<u32> = provider.get_all_keyed::<u32, _>(&"db")?.iter().map(|v| **v).collect();
    assert_eq!(db, [1, 2, 3], "every \"db\" registration, in order, nothing else");
    assert_eq!(*provider.get_keyed::<u32, _>(&"db")?, 3, "the single keyed resolve is the last match");
    assert!(provider.get_all_keyed::<u32, _>(&"none")?.is_empty(), "an unknown key lists nothing");
    Ok(())
}

// Rows 26, 27, 28.
#[test]
fn keyed_and_unkeyed_never_share_resolution_or_cache() -> TestResult {
    for lifetime in [Lifetime::Singleton, Lifetime::Scoped] {
        let mut services = ServiceCollection::new();
        services.add::<Endpoint>(lifetime, |_| Ok(Arc::new(Endpoint("plain"))));
        endpoint(lifetime, Region::Eu, "eu", &mut services);
        let provider = services.build()?;
        let scope = provider.create_scope()?;
        let keyed = scope.get_keyed::<Endpoint, _>(&Region::Eu)?;
        let plain = scope.get::<Endpoint>()?;
        assert_eq!((keyed.0, plain.0), ("eu", "plain"), "{lifetime}: each lookup finds its own registration");
        assert!(!Arc::ptr_eq(&keyed, &plain), "{lifetime}: separate cache slots");
        assert_eq!(scope.get_all::<Endpoint>()?.len(), 1, "{lifetime}: the unkeyed list has only the unkeyed one");
        assert_eq!(scope.get_all_keyed::<Endpoint, _>(&Region::Eu)?.len(), 1, "{lifetime}: and vice versa");
    }
    Ok(())
}

#[test]
fn keys_of_different_types_never_match_even_with_equal_values() -> TestResult {
    let provider = ServiceCollection::new()
        .add_keyed_singleton_instance(1u64, String::from("u64"))
        .add_keyed_singleton_instance(String::from("one"), String::from("string key"))
        .build()?;
    assert_eq!(*provider.get_keyed::<String, _>(&1u64)?, "u64");
    assert!(provider.get_keyed_optional::<String, _>(&1u32)?.is_none(), "a u32 key is not a u64 key");
    assert_eq!(*provider.get_keyed::<String, _>(&String::from("one"))?, "string key");
    assert!(provider.get_keyed_optional::<String, _>(&"one")?.is_none(), "a &str key is not a String key");
    Ok(())
}

// Row K17.
#[test]
fn keyed_instance_is_served_as_registered() -> TestResult {
    let instance = Arc::new(Endpoint("given"));
    let provider =
        ServiceCollection::new().add_keyed_singleton_instance::<Endpoint, _>("k", instance.clone()).build()?;
    assert!(Arc::ptr_eq(&provider.get_keyed::<Endpoint, _>(&"k")?, &instance));
    Ok(())
}

// Rows K18, K31 (restated: the factory captures its key).
#[test]
fn keyed_factory_can_use_its_own_key() -> TestResult {
    let mut services = ServiceCollection::new();
    for region in [Region::Eu, Region::Us] {
        services.add_keyed_transient::<String, _>(region, move |_| Ok(Arc::new(format!("{region:?}"))));
    }
    let provider = services.build()?;
    assert_eq!(*provider.get_keyed::<String, _>(&Region::Us)?, "Us");
    let (a, b) = (provider.get_keyed::<String, _>(&Region::Eu)?, provider.get_keyed::<String, _>(&Region::Eu)?);
    assert!(!Arc::ptr_eq(&a, &b), "keyed transients are distinct");
    Ok(())
}

// Row K21.
#[test]
fn factory_resolves_keyed_dependencies() -> TestResult {
    struct Replicator {
        from: Arc<Endpoint>,
        to: Arc<Endpoint>,
    }
    let mut services = ServiceCollection::new();
    endpoint(Lifetime::Singleton, Region::Eu, "eu", &mut services);
    endpoint(Lifetime::Singleton, Region::Us, "us", &mut services);
    services.add_singleton::<Replicator>(|sp| {
        Ok(Arc::new(Replicator { from: sp.get_keyed(&Region::Eu)?, to: sp.get_keyed(&Region::Us)? }))
    });
    let provider = services.build()?;
    let replicator = provider.get::<Replicator>()?;
    assert_eq!((replicator.from.0, replicator.to.0), ("eu", "us"));
    Ok(())
}

// Rows K22, K23, K39.
#[test]
fn missing_keyed_dependency_names_the_type_and_the_key() -> TestResult {
    struct Replicator;
    let mut services = ServiceCollection::new();
    endpoint(Lifetime::Singleton, Region::Eu, "eu", &mut services);
    services.add_singleton::<Replicator>(|sp| {
        sp.get_keyed::<Endpoint, _>(&Region::Eu)?;
        sp.get_keyed::<Endpoint, _>(&Region::Us)?;
        Ok(Arc::new(Replicator))
    });
    let provider = services.build()?;
    let err = provider.get::<Replicator>().err().expect("the second keyed dependency is missing");
    let ResolveError::NotRegistered { service, key, path } = &err else {
        panic!("expected NotRegistered, got {err:?}");
    };
    assert_eq!(*service, std::any::type_name::<Endpoint>());
    assert_eq!(key.as_deref(), Some("of type `keyed::Region`"), "an enum key is described by its type");
    assert_eq!(path.services(), [std::any::type_name::<Replicator>()]);
    let msg = provider.get_keyed::<Endpoint, _>(&"db").err().expect("unregistered key").to_string();
    assert!(msg.contains("keyed::Endpoint") && msg.contains("with key \"db\""), "names type and key: {msg}");
    Ok(())
}

// Row K24.
#[test]
fn optional_keyed_lookup_tolerates_a_missing_registration() -> TestResult {
    let provider = ServiceCollection::new().build()?;
    assert!(provider.get_keyed_optional::<Endpoint, _>(&Region::Eu)?.is_none());
    Ok(())
}

// Row K25.
#[test]
fn unkeyed_registration_does_not_satisfy_a_keyed_lookup() -> TestResult {
    let provider = ServiceCollection::new().add_singleton_instance(Endpoint("plain")).build()?;
    let err = provider.get_keyed::<Endpoint, _>(&Region::Eu).err().expect("no keyed registration");
    assert!(err.is_not_registered(), "{err:?}");
    Ok(())
}

// Rows K34, K35, K41.
#[test]
fn injected_provider_resolves_keyed_services_by_runtime_key() -> TestResult {
    struct Router(Arc<ServiceProvider>);
    impl Router {
        fn route(&self, region: Region) -> Result<Arc<Endpoint>, ResolveError> {
            self.0.get_keyed(&region)
        }
    }
    let mut services = ServiceCollection::new();
    endpoint(Lifetime::Singleton, Region::Eu, "eu", &mut services);
    endpoint(Lifetime::Transient, Region::Us, "us", &mut services);
    services.add_singleton::<Router>(|sp| Ok(Arc::new(Router(sp.get()?))));
    let provider = services.build()?;
    let router = provider.get::<Router>()?;
    assert!(Arc::ptr_eq(&router.route(Region::Eu)?, &provider.get_keyed::<Endpoint, _>(&Region::Eu)?), "singleton");
    assert!(!Arc::ptr_eq(&router.route(Region::Us)?, &router.route(Region::Us)?), "transient");
    Ok(())
}

// Rows K36, K37, K38.
#[test]
fn keyed_lifetimes_hold_across_scopes() -> TestResult {
    let mut services = ServiceCollection::new();
    services
        .add_keyed_singleton::<u8, _>("s", |_| Ok(Arc::new(1)))
        .add_keyed_scoped::<u8, _>("c", |_| Ok(Arc::new(2)))
        .add_keyed_transient::<u8, _>("t", |_| Ok(Arc::new(3)));
    let provider = services.build()?;
    let (one, two) = (provider.create_scope()?, provider.create_scope()?);
    let get = |sp: &ServiceProvider, k: &'static str| sp.get_keyed::<u8, _>(&k);
    assert!(Arc::ptr_eq(&get(&one, "s")?, &get(&two, "s")?), "keyed singleton shared by scopes");
    assert!(Arc::ptr_eq(&get(&one, "c")?, &get(&one, "c")?), "keyed scoped cached in its scope");
    assert!(!Arc::ptr_eq(&get(&one, "c")?, &get(&two, "c")?), "and distinct across scopes");
    assert!(!Arc::ptr_eq(&get(&one, "t")?, &get(&one, "t")?), "keyed transient always new");
    assert!(
        matches!(get(&provider, "c"), Err(ResolveError::ScopedFromRoot { .. })),
        "keyed scoped from the root is refused like unkeyed"
    );
    Ok(())
}

// Rows K46, K51.
#[test]
fn is_keyed_service_matches_service_type_and_key_only() -> TestResult {
    let provider = ServiceCollection::new().add_keyed_singleton_instance(Region::Eu, Endpoint("eu")).build()?;
    assert!(provider.is_keyed_service::<Endpoint, _>(&Region::Eu));
    assert!(!provider.is_keyed_service::<Endpoint, _>(&Region::Us), "another key");
    assert!(!provider.is_keyed_service::<String, _>(&Region::Eu), "another type");
    assert!(!provider.is_service::<Endpoint>(), "a keyed registration is not an unkeyed service");
    assert!(
        !provider.is_keyed_service::<ServiceProvider, _>(&"k") && !provider.is_keyed_service::<ScopeFactory, _>(&"k"),
        "built-ins are unkeyed services only"
    );
    Ok(())
}

// Row K16 / K48 (restated: generic types are registered per instantiation).
#[test]
fn keyed_generic_instantiations_are_distinct_services() -> TestResult {
    struct Queue<T>(std::marker::PhantomData<fn() -> T>);
    let provider = ServiceCollection::new()
        .add_keyed_singleton::<Queue<u8>, _>("q", |_| Ok(Arc::new(Queue(std::marker::PhantomData))))
        .add_keyed_singleton::<Queue<u16>, _>("q", |_| Ok(Arc::new(Queue(std::marker::PhantomData))))
        .build()?;
    assert_eq!(provider.get_all_keyed::<Queue<u8>, _>(&"q")?.len(), 1, "one per instantiation");
    assert!(provider.is_keyed_service::<Queue<u16>, _>(&"q") && !provider.is_keyed_service::<Queue<u32>, _>(&"q"));
    Ok(())
}
