//! Registration: the collection as an ordered, editable list, and what a single lookup, an
//! optional lookup and a list (`resolve::<Vec<Arc<T>>>()`) return for it (reference §1.1).

use std::sync::Arc;

use di_core::{
    BoxError, FromProvider, Lifetime, Provides, ResolveError, Resolver, ServiceCollection, ServiceProvider, Source,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

trait Greeter: Send + Sync {
    fn greet(&self) -> &'static str;
}

struct English;
impl Greeter for English {
    fn greet(&self) -> &'static str {
        "hello"
    }
}

struct French;
impl Greeter for French {
    fn greet(&self) -> &'static str {
        "bonjour"
    }
}

impl FromProvider for English {
    fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> {
        Ok(Self)
    }
}
impl Provides<dyn Greeter> for English {
    fn provide(self: Arc<Self>) -> Arc<dyn Greeter> {
        self
    }
}

impl FromProvider for French {
    fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> {
        Ok(Self)
    }
}
impl Provides<dyn Greeter> for French {
    fn provide(self: Arc<Self>) -> Arc<dyn Greeter> {
        self
    }
}

trait Other: Send + Sync {}
struct OtherImpl;
impl Other for OtherImpl {}

fn greetings(provider: &ServiceProvider) -> Result<Vec<&'static str>, ResolveError> {
    Ok(provider.resolve::<Vec<Arc<dyn Greeter>>>()?.iter().map(|g| g.greet()).collect())
}

fn values(provider: &ServiceProvider) -> Result<Vec<u32>, ResolveError> {
    Ok(provider.resolve::<Vec<Arc<u32>>>()?.iter().map(|v| **v).collect())
}

// Row 1.
#[test]
fn trait_object_registered_with_a_factory_resolves_to_the_implementation() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_transient::<dyn Greeter>(|_| Ok(Arc::new(English) as Arc<dyn Greeter>));
    let provider = services.build()?;
    assert_eq!(provider.get::<dyn Greeter>()?.greet(), "hello", "the factory's implementation is served");
    Ok(())
}

// Rows 2, 44, 91.
#[test]
fn registered_instance_is_returned_as_the_exact_same_arc() -> TestResult {
    let instance = Arc::new(String::from("config"));
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::<String>::instance(instance.clone()));
    let provider = services.build()?;
    assert!(Arc::ptr_eq(&provider.get::<String>()?, &instance), "the registered Arc itself is served");
    let scope = provider.create_scope()?;
    assert!(Arc::ptr_eq(&scope.provider().get::<String>()?, &instance), "scopes serve the same instance");
    Ok(())
}

// Rows 8, 13.
#[test]
fn optional_lookup_of_unregistered_service_is_none() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(1u8));
    let provider = services.build()?;
    assert!(provider.resolve::<Option<Arc<u16>>>()?.is_none(), "an unregistered service is absent, not an error");
    assert_eq!(provider.resolve::<Option<Arc<u8>>>()?.as_deref(), Some(&1), "a registered one is found");
    Ok(())
}

// Row 15, 17.
#[test]
fn required_lookup_of_unregistered_service_names_the_type() -> TestResult {
    let provider = ServiceCollection::new().build()?;
    let err = provider.get::<dyn Greeter>().err().expect("the resolve should fail");
    let ResolveError::NotRegistered { service, key, path } = &err else {
        panic!("expected NotRegistered, got {err:?}");
    };
    assert_eq!(*service, std::any::type_name::<dyn Greeter>(), "the error names the requested type");
    assert!(key.is_none() && path.is_empty(), "a direct unkeyed lookup has no key and no path");
    assert_eq!(
        err.to_string(),
        format!(
            "no service registered for `{}`; register it on the `ServiceCollection` before `build()`",
            std::any::type_name::<dyn Greeter>()
        )
    );
    Ok(())
}

// Rows 9, 22.
#[test]
fn get_all_of_unregistered_service_is_empty() -> TestResult {
    let provider = ServiceCollection::new().build()?;
    assert!(
        provider.resolve::<Vec<Arc<dyn Greeter>>>()?.is_empty(),
        "no registration means an empty list, not an error"
    );
    Ok(())
}

// Row 11.
#[test]
fn last_registration_wins_a_single_resolve() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<dyn Greeter>(|_| Ok(Arc::new(English) as Arc<dyn Greeter>));
    services.add_singleton::<dyn Greeter>(|_| Ok(Arc::new(French) as Arc<dyn Greeter>));
    let provider = services.build()?;
    assert_eq!(provider.get::<dyn Greeter>()?.greet(), "bonjour", "the last registration is the one resolved");
    Ok(())
}

// Rows 19, 20, 21.
#[test]
fn get_all_returns_every_registration_of_that_type_only() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<dyn Greeter>(|_| Ok(Arc::new(English) as Arc<dyn Greeter>));
    services.add_singleton::<dyn Other>(|_| Ok(Arc::new(OtherImpl) as Arc<dyn Other>));
    services.add_transient::<dyn Greeter>(|_| Ok(Arc::new(French) as Arc<dyn Greeter>));
    let provider = services.build()?;
    assert_eq!(greetings(&provider)?, ["hello", "bonjour"], "both greeters, nothing else");
    assert_eq!(provider.resolve::<Vec<Arc<dyn Other>>>()?.len(), 1, "a single registration gives a single item");
    Ok(())
}

// Row 10, 89.
#[test]
fn factory_can_resolve_a_singleton_and_a_list_of_dependencies() -> TestResult {
    struct Outer {
        single: Arc<String>,
        many: Vec<Arc<u32>>,
    }
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(String::from("single")));
    services.add_transient::<u32>(|_| Ok(Arc::new(1)));
    services.add_transient::<u32>(|_| Ok(Arc::new(2)));
    services.add_transient::<Outer>(|sp| Ok(Arc::new(Outer { single: sp.get()?, many: sp.resolve()? })));
    let provider = services.build()?;
    let outer = provider.get::<Outer>()?;
    assert!(Arc::ptr_eq(&outer.single, &provider.get::<String>()?), "the singleton dependency is shared");
    assert_eq!(outer.many.iter().map(|v| **v).collect::<Vec<_>>(), [1, 2], "the list dependency is complete");
    Ok(())
}

// Row 29.
#[test]
fn factory_error_is_kept_as_the_source() -> TestResult {
    #[derive(Debug, thiserror::Error)]
    #[error("database unreachable")]
    struct Unreachable;

    let mut services = ServiceCollection::new();
    services.add_singleton::<u32>(|_| Err(Unreachable.into()));
    let provider = services.build()?;
    let err = provider.get::<u32>().expect_err("the resolve should fail");
    let ResolveError::Factory { service, source, .. } = &err else { panic!("expected Factory, got {err:?}") };
    assert_eq!(*service, "u32");
    assert_eq!(source.to_string(), "database unreachable", "the factory's own error is the source, unchanged");
    Ok(())
}

// Rows 31, 32.
#[test]
fn missing_dependency_names_the_dependency_and_the_service_being_built() -> TestResult {
    struct NeedsDb;
    struct Db;
    let mut services = ServiceCollection::new();
    services.add_transient::<NeedsDb>(|sp| {
        sp.get::<Db>()?;
        Ok(Arc::new(NeedsDb))
    });
    let provider = services.build()?;
    for err in [
        provider.get::<NeedsDb>().err().expect("the resolve should fail"),
        provider.resolve::<Vec<Arc<NeedsDb>>>().err().expect("the resolve should fail"),
    ] {
        let ResolveError::NotRegistered { service, path, .. } = &err else {
            panic!("expected NotRegistered, got {err:?}");
        };
        assert_eq!(*service, std::any::type_name::<Db>(), "the missing dependency is named");
        assert_eq!(path.services(), [std::any::type_name::<NeedsDb>()], "and the service that needed it");
    }
    Ok(())
}

// Row 37.
#[test]
fn plain_values_are_services_in_every_lifetime() -> TestResult {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        Fast,
        Safe,
    }
    struct Config {
        retries: u32,
    }
    for lifetime in [Lifetime::Singleton, Lifetime::Scoped, Lifetime::Transient] {
        let mut services = ServiceCollection::new();
        services.add::<u32>(lifetime, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(7))));
        services.add::<u32>(lifetime, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(8))));
        services.add::<Mode>(lifetime, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(Mode::Fast))));
        services.add::<Mode>(lifetime, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(Mode::Safe))));
        services
            .add::<Config>(lifetime, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(Config { retries: 3 }))));
        let provider = services.build()?;
        let scope = provider.create_scope()?;
        assert_eq!(*scope.provider().get::<u32>()?, 8, "{lifetime}: last u32");
        assert_eq!(values(scope.provider())?, [7, 8], "{lifetime}: every u32 in order");
        assert_eq!(*scope.provider().get::<Mode>()?, Mode::Safe, "{lifetime}: last enum value");
        assert_eq!(scope.provider().get::<Config>()?.retries, 3, "{lifetime}: config struct");
    }
    Ok(())
}

// Row 41.
#[test]
fn collection_is_an_ordered_list_that_can_be_edited() {
    let mut services = ServiceCollection::new();
    assert!(services.is_empty());
    services.add(Lifetime::Singleton, Source::instance(1u32));
    assert_eq!(services.len(), 1, "one add, one registration");
    services.add(Lifetime::Singleton, Source::instance(2u32));
    services.add_transient::<u8>(|_| Ok(Arc::new(3)));
    assert_eq!(services.len(), 3, "every add appends");
    assert_eq!(services.remove::<u32>(), 2, "removing a type removes its registrations");
    assert_eq!(services.len(), 1);
    assert!(services.iter().any(|s| s.is::<u8>()) && !services.iter().any(|s| s.is::<u32>()));
}

// Row 42.
#[test]
fn collection_debug_lists_lifetime_service_and_kind() {
    let mut services = ServiceCollection::new();
    services.add_singleton::<u32>(|_| Ok(Arc::new(1)));
    services.keyed("k").add(Lifetime::Singleton, Source::instance(2u8));
    assert_eq!(
        format!("{services:?}"),
        r#"[singleton service `u32` (factory), singleton service `u8` (instance) with key "k" (&str)]"#
    );
}

// Row 43.
#[test]
fn add_with_factory_records_the_lifetime() {
    let mut services = ServiceCollection::new();
    services.add_singleton::<u32>(|_| Ok(Arc::new(1)));
    services.add_scoped::<u32>(|_| Ok(Arc::new(2)));
    services.add_transient::<u32>(|_| Ok(Arc::new(3)));
    services.add::<u32>(Lifetime::Scoped, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(4))));
    assert_eq!(
        services.iter().filter(|s| s.is::<u32>()).map(|s| s.lifetime()).collect::<Vec<_>>(),
        [Lifetime::Singleton, Lifetime::Scoped, Lifetime::Transient, Lifetime::Scoped],
        "each registration keeps the lifetime it was added with"
    );
}

// Rows 45, 46, 47.
#[test]
fn try_add_adds_only_when_the_type_has_no_registration() -> TestResult {
    let mut services = ServiceCollection::new();
    assert!(
        services
            .try_add::<u32>(Lifetime::Singleton, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(1))))
            .is_some(),
        "absent: added"
    );
    assert!(
        services
            .try_add::<u32>(Lifetime::Transient, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(2))))
            .is_none(),
        "present: no-op"
    );
    assert!(
        services
            .try_add::<u32>(Lifetime::Scoped, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(3))))
            .is_none(),
        "present: no-op"
    );
    assert!(
        services
            .try_add::<u32>(Lifetime::Singleton, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(4))))
            .is_none(),
        "present: no-op"
    );
    services.keyed("k").add(Lifetime::Singleton, Source::instance(5u16));
    assert!(
        services
            .try_add::<u16>(Lifetime::Singleton, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(6))))
            .is_some(),
        "a keyed registration does not count"
    );
    let provider = services.build()?;
    assert_eq!(values(&provider)?, [1], "only the first u32 made it");
    assert_eq!(*provider.get::<u16>()?, 6);
    Ok(())
}

// Row 48.
#[test]
fn try_add_enumerable_deduplicates_by_implementation_type() -> TestResult {
    let mut services = ServiceCollection::new();
    let english = || Source::<dyn Greeter>::implemented_by::<English>();
    let french = || Source::<dyn Greeter>::implemented_by::<French>();
    assert!(services.try_add_enumerable(Lifetime::Singleton, english()).is_some());
    assert!(services.try_add_enumerable(Lifetime::Transient, french()).is_some());
    assert!(
        services.try_add_enumerable(Lifetime::Transient, english()).is_none(),
        "the same implementation again is a no-op, whatever the lifetime"
    );
    assert_eq!(greetings(&*services.build()?)?, ["hello", "bonjour"]);
    Ok(())
}

// Row 51.
#[test]
fn replace_appends_when_nothing_is_registered() -> TestResult {
    let mut services = ServiceCollection::new();
    services.replace::<u32>(Lifetime::Singleton, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(1))));
    assert_eq!(values(&*services.build()?)?, [1]);
    Ok(())
}

// Row 52.
#[test]
fn replace_removes_the_first_registration_and_appends() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(1u32));
    services.add(Lifetime::Singleton, Source::instance(2u32));
    services.keyed("k").add(Lifetime::Singleton, Source::instance(9u32));
    services.replace::<u32>(Lifetime::Transient, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(3))));
    let provider = services.build()?;
    assert_eq!(values(&provider)?, [2, 3], "first removed, new one last");
    assert_eq!(*provider.keyed(&"k").get::<u32>()?, 9, "keyed registrations are not touched");
    Ok(())
}

// Row 53.
#[test]
fn remove_all_removes_every_unkeyed_registration_of_the_type() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(1u32));
    services.add_transient::<u32>(|_| Ok(Arc::new(2)));
    services.add(Lifetime::Singleton, Source::instance(3u8));
    services.keyed("k").add(Lifetime::Singleton, Source::instance(4u32));
    assert_eq!(services.remove::<u32>(), 2, "both unkeyed u32 registrations removed");
    assert_eq!(services.remove::<u32>(), 0, "nothing left to remove");
    let provider = services.build()?;
    assert!(provider.resolve::<Option<Arc<u32>>>()?.is_none());
    assert_eq!(*provider.get::<u8>()?, 3, "other types stay");
    assert_eq!(*provider.keyed(&"k").get::<u32>()?, 4, "keyed registrations stay");
    Ok(())
}

// Rows 4, 139, 143.
#[test]
fn built_ins_are_services_of_an_empty_collection() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(English));
    let provider = services.build()?;
    assert!(provider.contains::<ServiceProvider>() && provider.contains::<di_core::ScopeFactory>());
    assert!(provider.get::<di_core::ScopeFactory>().is_ok(), "the scope factory resolves with no registration");
    assert!(provider.contains::<English>());
    assert!(!provider.contains::<dyn Greeter>(), "the implementation type is not the registered service type");
    Ok(())
}
