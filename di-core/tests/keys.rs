//! Keys: a keyed factory is given the key it is resolved under (`Resolver::key`), so one factory
//! serves several keys; a key is its value and its type, as lookups and messages show; and the
//! collection lists every registration with its key.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use di_core::{AnyKey, BoxError, Lifetime, ResolveError, Resolver, ServiceCollection, Source};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A service that remembers the key it was made for.
#[derive(Debug)]
struct Region(&'static str);

/// One factory for every region: it reads its key instead of capturing it.
fn region(sp: &Resolver<'_>) -> Result<Arc<Region>, BoxError> {
    let key = sp.key::<&str>().ok_or("a region is keyed by `&str`")?;
    Ok(Arc::new(Region(key)))
}

#[test]
fn one_keyed_factory_under_two_keys_receives_each_key() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    for key in ["eu", "us"] {
        let calls = calls.clone();
        services.keyed(key).add_singleton::<Region>(move |sp| {
            calls.fetch_add(1, Ordering::SeqCst);
            region(sp)
        });
    }
    let provider = services.build()?;

    let eu = provider.keyed(&"eu").get::<Region>()?;
    assert_eq!(eu.0, "eu", "the factory received the key it was resolved under");
    assert_eq!(provider.keyed(&"us").get::<Region>()?.0, "us", "and the other key under the other one");
    assert!(Arc::ptr_eq(&eu, &provider.keyed(&"eu").get::<Region>()?), "each key keeps its own singleton");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one creation per key");
    Ok(())
}

#[test]
fn every_lifetime_and_resolver_passes_the_key() -> TestResult {
    struct Report(&'static str, &'static str);
    let mut services = ServiceCollection::new();
    for key in ["hot", "cold"] {
        services.keyed(key).add_scoped::<Region>(region);
        services.keyed(key).add_transient::<Report>(|sp| {
            let key = *sp.key::<&str>().ok_or("keyed by `&str`")?;
            // A nested keyed resolve is its own creation, under the key it asked for.
            let other = sp.keyed(&if key == "hot" { "cold" } else { "hot" }).get::<Region>()?;
            Ok(Arc::new(Report(key, other.0)))
        });
    }
    let provider = services.build()?;
    let scope = provider.create_scope()?;

    assert_eq!(scope.provider().keyed(&"cold").get::<Region>()?.0, "cold");
    let hot = scope.provider().keyed(&"hot").get::<Report>()?;
    assert_eq!((hot.0, hot.1), ("hot", "cold"), "the transient got its key, its dependency the other");
    let cold = scope.provider().keyed(&"cold").get::<Report>()?;
    assert_eq!((cold.0, cold.1), ("cold", "hot"));
    Ok(())
}

#[test]
fn key_is_typed_and_absent_for_unkeyed_creations() -> TestResult {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Tier {
        Gold,
    }
    struct Seen {
        as_str: Option<&'static str>,
        as_tier: Option<Tier>,
        dependency_key: Option<Tier>,
    }
    struct Dependency(Option<Tier>);
    let mut services = ServiceCollection::new();
    services.add_transient::<Dependency>(|sp| Ok(Arc::new(Dependency(sp.key::<Tier>().copied()))));
    services.keyed(Tier::Gold).add_transient::<Seen>(|sp| {
        Ok(Arc::new(Seen {
            as_str: sp.key::<&str>().copied(),
            as_tier: sp.key::<Tier>().copied(),
            dependency_key: sp.get::<Dependency>()?.0,
        }))
    });
    let provider = services.build()?;

    let seen = provider.keyed(&Tier::Gold).get::<Seen>()?;
    assert_eq!(seen.as_tier, Some(Tier::Gold), "the key, as its own type");
    assert_eq!(seen.as_str, None, "asked as another type, there is none");
    assert_eq!(seen.dependency_key, None, "an unkeyed dependency's factory has no key");
    assert_eq!(provider.get::<Dependency>()?.0, None, "nor has an unkeyed resolve");
    Ok(())
}

#[tokio::test]
async fn async_keyed_factory_under_two_keys_receives_each_key() -> TestResult {
    let mut services = ServiceCollection::new();
    for key in ["eu", "us"] {
        services.keyed(key).add(
            Lifetime::Singleton,
            Source::from_async_fn(|sp| async move {
                tokio::task::yield_now().await;
                let key = *sp.key::<&str>().ok_or("a region is keyed by `&str`")?;
                Ok::<_, BoxError>(Arc::new(Region(key)))
            }),
        );
    }
    services.keyed(AnyKey).add(
        Lifetime::Transient,
        Source::from_async_fn(|sp| async move {
            Ok::<_, BoxError>(Arc::new(Region(sp.key::<&str>().copied().unwrap_or("none"))))
        }),
    );
    let provider = services.build()?;

    for key in ["eu", "us", "ap"] {
        let lookup = provider.keyed(&key);
        let resolved = tokio::time::timeout(std::time::Duration::from_secs(10), lookup.get_async::<Region>()).await??;
        assert_eq!(resolved.0, key, "each key's factory (\"ap\": the AnyKey fallback) got its key");
    }
    Ok(())
}

#[test]
fn string_key_does_not_find_a_str_registration_and_says_so() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed("eu").add_singleton::<Region>(region);
    let provider = services.build()?;

    assert_eq!(provider.keyed(&"eu").get::<Region>()?.0, "eu", "the `&str` key finds it");
    let err = provider.keyed(&String::from("eu")).get::<Region>().expect_err("a `String` key is another key");
    let ResolveError::NotRegistered { key: Some(key), .. } = &err else {
        panic!("expected a keyed NotRegistered: {err:?}")
    };
    assert_eq!((key.value(), key.type_name()), ("\"eu\"", "alloc::string::String"));
    let message = err.to_string();
    assert!(message.contains(r#"with key "eu" (alloc::string::String)"#), "names the value and the type: {message}");
    assert!(provider.keyed(&String::from("eu")).resolve::<Option<Arc<Region>>>()?.is_none());
    assert!(!provider.keyed(&String::from("eu")).contains::<Region>());
    Ok(())
}

#[test]
fn iter_lists_service_key_and_lifetime_of_each_registration() {
    let mut services = ServiceCollection::new();
    services.add_singleton::<u8>(|_| Ok(Arc::new(1)));
    services.keyed("eu").add_scoped::<Region>(region);
    services.keyed(7u32).add(Lifetime::Transient, Source::from_fn(|_| Ok::<_, BoxError>(Arc::new(String::new()))));
    services.keyed(AnyKey).add(Lifetime::Singleton, Source::instance(2u8));

    let listed: Vec<_> = services
        .iter()
        .map(|s| {
            let key = match (s.key::<&str>(), s.key::<u32>(), s.key::<AnyKey>()) {
                (Some(k), _, _) => format!("{k:?}"),
                (_, Some(k), _) => k.to_string(),
                (_, _, Some(_)) => "any".to_owned(),
                _ => "-".to_owned(),
            };
            (s.service_name(), key, s.lifetime(), s.is_keyed())
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("u8", "-".to_owned(), Lifetime::Singleton, false),
            (std::any::type_name::<Region>(), "\"eu\"".to_owned(), Lifetime::Scoped, true),
            ("alloc::string::String", "7".to_owned(), Lifetime::Transient, true),
            ("u8", "any".to_owned(), Lifetime::Singleton, true),
        ]
    );
    assert_eq!(services.iter().len(), services.len());
    assert!(services.iter().nth(1).is_some_and(|s| s.is::<Region>() && s.key::<String>().is_none()));
    assert_eq!(
        format!("{:?}", services.iter().nth(2).expect("three registrations")),
        "transient service `alloc::string::String` (factory) with key 7 (u32)"
    );
}
