//! Keyed services: any `Eq + Hash` key (strings, enums, numbers), one cache slot per
//! registration, never mixed with unkeyed lookups (reference §1.1 rows 26-28, §1.9).

use std::sync::Arc;

use di_core::{Lifetime, ResolveError, ScopeFactory, ServiceCollection, ServiceProvider, Source};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Region {
    Eu,
    Us,
}

struct Endpoint(&'static str);

fn endpoint(lifetime: Lifetime, key: Region, url: &'static str, services: &mut ServiceCollection) {
    services
        .keyed(key)
        .add::<Endpoint>(lifetime, Source::from_fn(move |_| Ok::<_, di_core::BoxError>(Arc::new(Endpoint(url)))));
}

// Rows K2, K27, K30.
#[test]
fn each_key_resolves_its_own_singleton() -> TestResult {
    let mut services = ServiceCollection::new();
    endpoint(Lifetime::Singleton, Region::Eu, "eu", &mut services);
    endpoint(Lifetime::Singleton, Region::Us, "us", &mut services);
    let provider = services.build()?;
    let eu = provider.keyed(&Region::Eu).get::<Endpoint>()?;
    assert_eq!(eu.0, "eu");
    assert_eq!(provider.keyed(&Region::Us).get::<Endpoint>()?.0, "us");
    assert!(Arc::ptr_eq(&eu, &provider.keyed(&Region::Eu).get::<Endpoint>()?), "a keyed singleton is cached");
    assert!(
        provider.resolve::<Option<Arc<Endpoint>>>()?.is_none(),
        "keyed registrations do not answer unkeyed lookups"
    );
    Ok(())
}

// Rows K6, K15, K12 (duplicate keys without AnyKey).
#[test]
fn get_all_keyed_lists_that_key_only_in_registration_order() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed("db").add(Lifetime::Singleton, Source::instance(1u32));
    services.keyed("cache").add(Lifetime::Singleton, Source::instance(10u32));
    services.keyed("db").add_transient::<u32>(|_| Ok(Arc::new(2)));
    services.add(Lifetime::Singleton, Source::instance(100u32));
    services.keyed("db").add(Lifetime::Singleton, Source::instance(3u32));
    let provider = services.build()?;
    let db: Vec<u32> = provider.keyed(&"db").resolve::<Vec<Arc<u32>>>()?.iter().map(|v| **v).collect();
    assert_eq!(db, [1, 2, 3], "every \"db\" registration, in order, nothing else");
    assert_eq!(*provider.keyed(&"db").get::<u32>()?, 3, "the single keyed resolve is the last match");
    assert!(provider.keyed(&"none").resolve::<Vec<Arc<u32>>>()?.is_empty(), "an unknown key lists nothing");
    Ok(())
}

// Rows 26, 27, 28.
#[test]
fn keyed_and_unkeyed_never_share_resolution_or_cache() -> TestResult {
    for lifetime in [Lifetime::Singleton, Lifetime::Scoped] {
        let mut services = ServiceCollection::new();
        services
            .add::<Endpoint>(lifetime, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(Endpoint("plain")))));
        endpoint(lifetime, Region::Eu, "eu", &mut services);
        let provider = services.build()?;
        let scope = provider.create_scope()?;
        let keyed = scope.provider().keyed(&Region::Eu).get::<Endpoint>()?;
        let plain = scope.provider().get::<Endpoint>()?;
        assert_eq!((keyed.0, plain.0), ("eu", "plain"), "{lifetime}: each lookup finds its own registration");
        assert!(!Arc::ptr_eq(&keyed, &plain), "{lifetime}: separate cache slots");
        assert_eq!(
            scope.provider().resolve::<Vec<Arc<Endpoint>>>()?.len(),
            1,
            "{lifetime}: the unkeyed list has only the unkeyed one"
        );
        assert_eq!(
            scope.provider().keyed(&Region::Eu).resolve::<Vec<Arc<Endpoint>>>()?.len(),
            1,
            "{lifetime}: and vice versa"
        );
    }
    Ok(())
}

#[test]
fn keys_of_different_types_never_match_even_with_equal_values() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(1u64).add(Lifetime::Singleton, Source::instance(String::from("u64")));
    services.keyed(String::from("one")).add(Lifetime::Singleton, Source::instance(String::from("string key")));
    let provider = services.build()?;
    assert_eq!(*provider.keyed(&1u64).get::<String>()?, "u64");
    assert!(provider.keyed(&1u32).resolve::<Option<Arc<String>>>()?.is_none(), "a u32 key is not a u64 key");
    assert_eq!(*provider.keyed(&String::from("one")).get::<String>()?, "string key");
    assert!(provider.keyed(&"one").resolve::<Option<Arc<String>>>()?.is_none(), "a &str key is not a String key");
    Ok(())
}

// Row K17.
#[test]
fn keyed_instance_is_served_as_registered() -> TestResult {
    let instance = Arc::new(Endpoint("given"));
    let mut services = ServiceCollection::new();
    services.keyed("k").add(Lifetime::Singleton, Source::<Endpoint>::instance(instance.clone()));
    let provider = services.build()?;
    assert!(Arc::ptr_eq(&provider.keyed(&"k").get::<Endpoint>()?, &instance));
    Ok(())
}

// Rows K18, K31 (restated: the factory captures its key).
#[test]
fn keyed_factory_can_use_its_own_key() -> TestResult {
    let mut services = ServiceCollection::new();
    for region in [Region::Eu, Region::Us] {
        services.keyed(region).add_transient::<String>(move |_| Ok(Arc::new(format!("{region:?}"))));
    }
    let provider = services.build()?;
    assert_eq!(*provider.keyed(&Region::Us).get::<String>()?, "Us");
    let (a, b) = (provider.keyed(&Region::Eu).get::<String>()?, provider.keyed(&Region::Eu).get::<String>()?);
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
        Ok(Arc::new(Replicator { from: sp.keyed(&Region::Eu).get()?, to: sp.keyed(&Region::Us).get()? }))
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
        sp.keyed(&Region::Eu).get::<Endpoint>()?;
        sp.keyed(&Region::Us).get::<Endpoint>()?;
        Ok(Arc::new(Replicator))
    });
    let provider = services.build()?;
    let err = provider.get::<Replicator>().err().expect("the second keyed dependency is missing");
    let ResolveError::NotRegistered { service, key, path } = &err else {
        panic!("expected NotRegistered, got {err:?}");
    };
    assert_eq!(*service, std::any::type_name::<Endpoint>());
    let key = key.as_ref().expect("a keyed lookup names its key");
    assert_eq!((key.value(), key.type_name()), ("Us", "keyed::Region"), "a key is described by its value and type");
    assert_eq!(key.to_string(), "Us (keyed::Region)");
    assert_eq!(path.services(), [std::any::type_name::<Replicator>()]);
    let msg = provider.keyed(&"db").get::<Endpoint>().err().expect("unregistered key").to_string();
    assert!(msg.contains("keyed::Endpoint") && msg.contains("with key \"db\" (&str)"), "names type and key: {msg}");
    Ok(())
}

// Row K24.
#[test]
fn optional_keyed_lookup_tolerates_a_missing_registration() -> TestResult {
    let provider = ServiceCollection::new().build()?;
    assert!(provider.keyed(&Region::Eu).resolve::<Option<Arc<Endpoint>>>()?.is_none());
    Ok(())
}

// Row K25.
#[test]
fn unkeyed_registration_does_not_satisfy_a_keyed_lookup() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(Endpoint("plain")));
    let provider = services.build()?;
    let err = provider.keyed(&Region::Eu).get::<Endpoint>().err().expect("no keyed registration");
    assert!(err.is_not_registered(), "{err:?}");
    Ok(())
}

// Rows K34, K35, K41.
#[test]
fn injected_provider_resolves_keyed_services_by_runtime_key() -> TestResult {
    struct Router(Arc<ServiceProvider>);
    impl Router {
        fn route(&self, region: Region) -> Result<Arc<Endpoint>, ResolveError> {
            self.0.keyed(&region).get()
        }
    }
    let mut services = ServiceCollection::new();
    endpoint(Lifetime::Singleton, Region::Eu, "eu", &mut services);
    endpoint(Lifetime::Transient, Region::Us, "us", &mut services);
    services.add_singleton::<Router>(|sp| Ok(Arc::new(Router(sp.get()?))));
    let provider = services.build()?;
    let router = provider.get::<Router>()?;
    assert!(Arc::ptr_eq(&router.route(Region::Eu)?, &provider.keyed(&Region::Eu).get::<Endpoint>()?), "singleton");
    assert!(!Arc::ptr_eq(&router.route(Region::Us)?, &router.route(Region::Us)?), "transient");
    Ok(())
}

// Rows K36, K37, K38.
#[test]
fn keyed_lifetimes_hold_across_scopes() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed("s").add_singleton::<u8>(|_| Ok(Arc::new(1)));
    services.keyed("c").add_scoped::<u8>(|_| Ok(Arc::new(2)));
    services.keyed("t").add_transient::<u8>(|_| Ok(Arc::new(3)));
    let provider = services.build()?;
    let (one, two) = (provider.create_scope()?, provider.create_scope()?);
    let get = |sp: &ServiceProvider, k: &'static str| sp.keyed(&k).get::<u8>();
    assert!(Arc::ptr_eq(&get(one.provider(), "s")?, &get(two.provider(), "s")?), "keyed singleton shared by scopes");
    assert!(Arc::ptr_eq(&get(one.provider(), "c")?, &get(one.provider(), "c")?), "keyed scoped cached in its scope");
    assert!(!Arc::ptr_eq(&get(one.provider(), "c")?, &get(two.provider(), "c")?), "and distinct across scopes");
    assert!(!Arc::ptr_eq(&get(one.provider(), "t")?, &get(one.provider(), "t")?), "keyed transient always new");
    assert!(
        matches!(get(&provider, "c"), Err(ResolveError::ScopedFromRoot { .. })),
        "keyed scoped from the root is refused like unkeyed"
    );
    Ok(())
}

// Rows K46, K51.
#[test]
fn is_keyed_service_matches_service_type_and_key_only() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(Region::Eu).add(Lifetime::Singleton, Source::instance(Endpoint("eu")));
    let provider = services.build()?;
    assert!(provider.keyed(&Region::Eu).contains::<Endpoint>());
    assert!(!provider.keyed(&Region::Us).contains::<Endpoint>(), "another key");
    assert!(!provider.keyed(&Region::Eu).contains::<String>(), "another type");
    assert!(!provider.contains::<Endpoint>(), "a keyed registration is not an unkeyed service");
    assert!(
        !provider.keyed(&"k").contains::<ServiceProvider>() && !provider.keyed(&"k").contains::<ScopeFactory>(),
        "built-ins are unkeyed services only"
    );
    Ok(())
}

// Row K16 / K48 (restated: generic types are registered per instantiation).
#[test]
fn keyed_generic_instantiations_are_distinct_services() -> TestResult {
    struct Queue<T>(std::marker::PhantomData<fn() -> T>);
    let mut services = ServiceCollection::new();
    services.keyed("q").add_singleton::<Queue<u8>>(|_| Ok(Arc::new(Queue(std::marker::PhantomData))));
    services.keyed("q").add_singleton::<Queue<u16>>(|_| Ok(Arc::new(Queue(std::marker::PhantomData))));
    let provider = services.build()?;
    assert_eq!(provider.keyed(&"q").resolve::<Vec<Arc<Queue<u8>>>>()?.len(), 1, "one per instantiation");
    assert!(provider.keyed(&"q").contains::<Queue<u16>>() && !provider.keyed(&"q").contains::<Queue<u32>>());
    Ok(())
}
