//! `AnyKey`: the fallback registration for keys without one of their own (one instance per key)
//! and the query that lists every keyed registration (reference §1.9 rows K1, K7-K15, K19, K20,
//! K28, K29, K33, K36; null-key rows do not apply: unkeyed and keyed never mix).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use di_core::{AnyKey, BoxError, Lifetime, ResolveError, Resolver, ServiceCollection, Source};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A service that remembers which registration made it.
#[derive(Debug)]
struct Svc(String);

fn named(name: &str) -> impl Fn(&Resolver<'_>) -> Result<Arc<Svc>, BoxError> + Send + Sync + 'static {
    let name = name.to_owned();
    move |_| Ok(Arc::new(Svc(name.clone())))
}

fn names(list: &[Arc<Svc>]) -> Vec<&str> {
    list.iter().map(|s| s.0.as_str()).collect()
}

/// An `AnyKey` factory that names its instance after the requested `&str` key.
fn per_key(prefix: &'static str) -> impl Fn(&Resolver<'_>) -> Result<Arc<Svc>, BoxError> + Send + Sync + 'static {
    move |sp| match sp.key::<&str>() {
        Some(k) => Ok(Arc::new(Svc(format!("{prefix}{k}")))),
        None => Err("expected a `&str` key".into()),
    }
}

fn any_key_message() -> String {
    format!(
        "`AnyKey` cannot resolve a single service `{}`; use `keyed(&AnyKey).resolve::<Vec<Arc<_>>>()` for every keyed registration",
        std::any::type_name::<Svc>()
    )
}

// Row K1: the semantics table, for keyed, unkeyed and AnyKey registrations.
#[test]
fn combinational_registration_follows_the_semantics_table() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Svc>(named("unkeyed"));
    services.keyed("key").add_singleton::<Svc>(named("keyed"));
    services.keyed(AnyKey).add_singleton::<Svc>(named("any"));
    let provider = services.build()?;
    // get / resolve::<Vec<_>>: unkeyed only.
    assert_eq!(provider.get::<Svc>()?.0, "unkeyed", "get sees the unkeyed registration only");
    assert_eq!(names(&provider.resolve::<Vec<Arc<Svc>>>()?), ["unkeyed"], "the list has the unkeyed registration only");
    // keyed(&AnyKey) list: keyed only, not the AnyKey one.
    assert_eq!(
        names(&provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?),
        ["keyed"],
        "AnyKey lists keyed registrations only"
    );
    // keyed(&AnyKey).get: an error.
    assert_eq!(provider.keyed(&AnyKey).get::<Svc>().unwrap_err().to_string(), any_key_message());
    // keyed(&key) list: keyed only; keyed(&key).get: keyed, else the AnyKey fallback.
    assert_eq!(
        names(&provider.keyed(&"key").resolve::<Vec<Arc<Svc>>>()?),
        ["keyed"],
        "a key lists its own registrations"
    );
    assert_eq!(
        names(&provider.keyed(&"other").resolve::<Vec<Arc<Svc>>>()?),
        Vec::<&str>::new(),
        "fallback is never listed"
    );
    assert_eq!(provider.keyed(&"key").get::<Svc>()?.0, "keyed", "an exact registration wins");
    assert_eq!(provider.keyed(&"other").get::<Svc>()?.0, "any", "the AnyKey registration is the fallback");
    Ok(())
}

// Row K7: AnyKey lists every keyed registration in order, and again the same on a second call.
#[test]
fn any_key_lists_every_keyed_registration_in_order_and_stably() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Svc>(named("unkeyed"));
    services.keyed("a").add_singleton::<Svc>(named("a1"));
    services.keyed("b").add_singleton::<Svc>(named("b1"));
    services.keyed(7u32).add_singleton::<Svc>(named("seven"));
    let provider = services.build()?;
    let first = provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?;
    assert_eq!(names(&first), ["a1", "b1", "seven"], "every keyed registration, of any key type, in order");
    let second = provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?;
    assert!(first.iter().zip(&second).all(|(x, y)| Arc::ptr_eq(x, y)), "singletons are the same on a second call");
    Ok(())
}

// Row K8: neither the AnyKey registration nor what it made for ad-hoc keys is listed.
#[test]
fn any_key_listing_excludes_the_fallback_and_its_per_key_instances() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add::<Svc>(Lifetime::Singleton, Source::from_fn(per_key("any-")));
    services.keyed("a").add_singleton::<Svc>(named("a"));
    services.keyed("b").add_singleton::<Svc>(named("b"));
    services.keyed("c").add_singleton::<Svc>(named("c"));
    services.keyed("d").add_singleton::<Svc>(named("d"));
    let provider = services.build()?;
    assert_eq!(provider.keyed(&"adhoc").get::<Svc>()?.0, "any-adhoc");
    let listed = provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?;
    assert_eq!(names(&listed), ["a", "b", "c", "d"], "4 items, without the AnyKey registration");
    assert!(provider.resolve::<Vec<Arc<Svc>>>()?.is_empty(), "keyed registrations never show unkeyed");
    Ok(())
}

// Row K9: a single AnyKey resolve is an error whatever was resolved before; the listing works.
#[test]
fn single_any_key_resolve_fails_regardless_of_call_order() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed("a").add_singleton::<Svc>(named("a"));
    let provider = services.build()?;
    assert_eq!(provider.keyed(&AnyKey).get::<Svc>().unwrap_err().to_string(), any_key_message());
    assert_eq!(names(&provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?), ["a"]);
    assert_eq!(provider.keyed(&AnyKey).get::<Svc>().unwrap_err().to_string(), any_key_message());
    assert!(
        matches!(provider.keyed(&AnyKey).resolve::<Option<Arc<Svc>>>(), Err(ResolveError::AnyKeySingle { .. })),
        "the optional lookup fails too: AnyKey is never 'absent'"
    );
    Ok(())
}

// Row K10: the AnyKey factory is not listed, serves any key value, and a single AnyKey resolve fails.
#[test]
fn any_key_factory_serves_ad_hoc_keys_but_not_any_key_itself() -> TestResult {
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    struct Opaque(u64);
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add::<Svc>(
        Lifetime::Singleton,
        Source::from_fn(|sp| {
            let Some(k) = sp.key::<Opaque>() else { return Err(BoxError::from("expected an `Opaque` key")) };
            Ok(Arc::new(Svc(format!("opaque-{}", k.0))))
        }),
    );
    let provider = services.build()?;
    assert!(provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?.is_empty(), "the AnyKey registration is not listed");
    assert_eq!(provider.keyed(&Opaque(9)).get::<Svc>()?.0, "opaque-9");
    assert!(matches!(provider.keyed(&AnyKey).get::<Svc>(), Err(ResolveError::AnyKeySingle { .. })));
    Ok(())
}

// Row K11: the listing and single resolves share one singleton per registration, in both orders.
#[test]
fn listing_and_single_resolves_share_instances_in_either_order() -> TestResult {
    for list_first in [true, false] {
        let mut services = ServiceCollection::new();
        services.keyed("a").add_singleton::<Svc>(named("a"));
        services.keyed("b").add_singleton::<Svc>(named("b"));
        let provider = services.build()?;
        let (listed, a, b) = if list_first {
            let listed = provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?;
            (listed, provider.keyed(&"a").get::<Svc>()?, provider.keyed(&"b").get::<Svc>()?)
        } else {
            let (a, b) = (provider.keyed(&"a").get::<Svc>()?, provider.keyed(&"b").get::<Svc>()?);
            (provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?, a, b)
        };
        assert!(
            Arc::ptr_eq(&listed[0], &a) && Arc::ptr_eq(&listed[1], &b),
            "same instances (list first: {list_first})"
        );
    }
    Ok(())
}

// Row K12: duplicate keys: the listing has every registration, its last for a key is the single one.
#[test]
fn duplicate_keys_list_every_registration_and_single_resolves_the_last() -> TestResult {
    for list_first in [true, false] {
        let mut services = ServiceCollection::new();
        services.keyed("a").add_singleton::<Svc>(named("a1"));
        services.keyed("b").add_singleton::<Svc>(named("b"));
        services.keyed("a").add_singleton::<Svc>(named("a2"));
        let provider = services.build()?;
        let single_first = if list_first { None } else { Some(provider.keyed(&"a").get::<Svc>()?) };
        let listed = provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?;
        let single = match single_first {
            Some(s) => s,
            None => provider.keyed(&"a").get::<Svc>()?,
        };
        assert_eq!(names(&listed), ["a1", "b", "a2"], "3 distinct registrations in order");
        assert!(!Arc::ptr_eq(&listed[0], &listed[2]), "each registration has its own instance");
        assert!(Arc::ptr_eq(&listed[2], &single), "the last registration of the key is the single one");
    }
    Ok(())
}

// Rows K13, K14: the same with instances, with and without duplicate keys.
#[test]
fn instances_are_listed_and_resolved_as_registered() -> TestResult {
    let (a1, b, a2) = (Arc::new(Svc("a1".into())), Arc::new(Svc("b".into())), Arc::new(Svc("a2".into())));
    let mut services = ServiceCollection::new();
    services.keyed("a").add(Lifetime::Singleton, Source::<Svc>::instance(a1.clone()));
    services.keyed("b").add(Lifetime::Singleton, Source::<Svc>::instance(b.clone()));
    services.keyed("a").add(Lifetime::Singleton, Source::<Svc>::instance(a2.clone()));
    let provider = services.build()?;
    let listed = provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?;
    assert!(Arc::ptr_eq(&listed[0], &a1) && Arc::ptr_eq(&listed[1], &b) && Arc::ptr_eq(&listed[2], &a2));
    assert!(Arc::ptr_eq(&provider.keyed(&"a").get::<Svc>()?, &a2), "single resolve = last instance of the key");
    assert!(Arc::ptr_eq(&provider.keyed(&"b").get::<Svc>()?, &b));
    Ok(())
}

// Row K15: the listing follows registration order, not grouped by key.
#[test]
fn any_key_listing_is_registration_order_not_grouped_by_key() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed("a").add_singleton::<Svc>(named("a1"));
    services.keyed("b").add_singleton::<Svc>(named("b1"));
    services.keyed("a").add_singleton::<Svc>(named("a2"));
    services.keyed("b").add_singleton::<Svc>(named("b2"));
    let provider = services.build()?;
    assert_eq!(names(&provider.keyed(&AnyKey).resolve::<Vec<Arc<Svc>>>()?), ["a1", "b1", "a2", "b2"]);
    Ok(())
}

// Row K19: an AnyKey registration serves any key, and its factory receives the requested key.
#[test]
fn any_key_registration_receives_the_requested_key() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add::<Svc>(Lifetime::Singleton, Source::from_fn(per_key("")));
    let provider = services.build()?;
    assert_eq!(provider.keyed(&"first").get::<Svc>()?.0, "first");
    assert_eq!(provider.keyed(&"second").get::<Svc>()?.0, "second");
    assert!(provider.keyed(&"third").contains::<Svc>(), "an AnyKey registration serves every key");
    assert!(!provider.keyed(&AnyKey).contains::<Svc>(), "nothing to list");
    assert!(!provider.keyed(&"first").contains::<String>(), "other types are not served");
    Ok(())
}

// Row K20: a concrete key lists its own registrations only, never the AnyKey one.
#[test]
fn concrete_key_listing_excludes_the_any_key_registration() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add_singleton::<Svc>(named("any"));
    services.keyed("some-key").add_singleton::<Svc>(named("some"));
    let provider = services.build()?;
    assert_eq!(names(&provider.keyed(&"some-key").resolve::<Vec<Arc<Svc>>>()?), ["some"]);
    assert!(provider.keyed(&AnyKey).contains::<Svc>(), "the \"some-key\" registration is listed");
    Ok(())
}

// Row K28: an AnyKey singleton: the same instance per key, a different one per key, key passed in.
#[test]
fn any_key_singleton_is_one_instance_per_key() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add_singleton::<Svc>(move |sp| {
        counted.fetch_add(1, Ordering::SeqCst);
        per_key("")(sp)
    });
    let provider = services.build()?;
    let a = provider.keyed(&"a").get::<Svc>()?;
    assert!(Arc::ptr_eq(&a, &provider.keyed(&"a").get::<Svc>()?), "same key, same instance");
    let b = provider.keyed(&"b").get::<Svc>()?;
    assert!(!Arc::ptr_eq(&a, &b), "another key, another instance");
    assert_eq!((a.0.as_str(), b.0.as_str()), ("a", "b"), "the factory received the key");
    let scope = provider.create_scope()?;
    assert!(Arc::ptr_eq(&a, &scope.provider().keyed(&"a").get::<Svc>()?), "singletons are shared with scopes");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one factory call per key");
    Ok(())
}

// Row K29: a factory refuses a key of the wrong type with an error, and stays usable.
#[test]
fn any_key_factory_can_refuse_a_key_of_the_wrong_type() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add::<Svc>(Lifetime::Singleton, Source::from_fn(per_key("")));
    let provider = services.build()?;
    let err = provider.keyed(&5u32).get::<Svc>().unwrap_err();
    assert!(matches!(err, ResolveError::Factory { .. }), "a factory error, got {err:?}");
    assert_eq!(std::error::Error::source(&err).map(ToString::to_string).as_deref(), Some("expected a `&str` key"));
    assert_eq!(provider.keyed(&"ok").get::<Svc>()?.0, "ok", "other keys still resolve");
    Ok(())
}

// Row K33: an AnyKey transient is a new instance each time.
#[test]
fn any_key_transient_is_new_each_time() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add::<Svc>(Lifetime::Transient, Source::from_fn(per_key("")));
    let provider = services.build()?;
    let (x, y) = (provider.keyed(&"k").get::<Svc>()?, provider.keyed(&"k").get::<Svc>()?);
    assert!(!Arc::ptr_eq(&x, &y), "transients are never cached");
    Ok(())
}

// AnyKey scoped: one instance per (scope, key).
#[test]
fn any_key_scoped_is_one_instance_per_scope_and_key() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add::<Svc>(Lifetime::Scoped, Source::from_fn(per_key("")));
    let provider = services.build()?;
    let (s1, s2) = (provider.create_scope()?, provider.create_scope()?);
    let a1 = s1.provider().keyed(&"a").get::<Svc>()?;
    assert!(Arc::ptr_eq(&a1, &s1.provider().keyed(&"a").get::<Svc>()?), "same scope and key, same instance");
    assert!(!Arc::ptr_eq(&a1, &s1.provider().keyed(&"b").get::<Svc>()?), "another key, another instance");
    assert!(!Arc::ptr_eq(&a1, &s2.provider().keyed(&"a").get::<Svc>()?), "another scope, another instance");
    assert!(matches!(provider.keyed(&"a").get::<Svc>(), Err(ResolveError::ScopedFromRoot { .. })));
    Ok(())
}

// Row K36: keyed singletons are shared across scopes, and a single AnyKey resolve fails in scopes.
#[test]
fn single_any_key_resolve_fails_in_scopes_too() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed("a").add_singleton::<Svc>(named("a"));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    assert!(Arc::ptr_eq(&provider.keyed(&"a").get::<Svc>()?, &scope.provider().keyed(&"a").get::<Svc>()?));
    assert_eq!(scope.provider().keyed(&AnyKey).get::<Svc>().unwrap_err().to_string(), any_key_message());
    Ok(())
}

// The async lookups follow the same rules.
#[tokio::test]
async fn async_lookups_fall_back_and_refuse_any_key() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add::<Svc>(
        Lifetime::Singleton,
        Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(Svc("async".into()))) }),
    );
    services.keyed("a").add_singleton::<Svc>(named("a"));
    let provider = services.build()?;
    let x = provider.keyed(&"x").get_async::<Svc>().await?;
    assert_eq!(x.0, "async");
    assert!(Arc::ptr_eq(&x, &provider.keyed(&"x").get_async::<Svc>().await?), "one instance per key");
    assert!(provider.keyed(&"y").resolve_async::<Option<Arc<Svc>>>().await?.is_some());
    assert_eq!(names(&provider.keyed(&AnyKey).resolve_async::<Vec<Arc<Svc>>>().await?), ["a"]);
    assert!(matches!(provider.keyed(&AnyKey).get_async::<Svc>().await, Err(ResolveError::AnyKeySingle { .. })));
    assert!(matches!(
        provider.keyed(&AnyKey).resolve_async::<Option<Arc<Svc>>>().await,
        Err(ResolveError::AnyKeySingle { .. })
    ));
    Ok(())
}

// Exactly once per key under a race: 32 threads resolve one key of an AnyKey singleton.
#[test]
fn racing_threads_create_an_any_key_singleton_once_per_key() -> TestResult {
    const THREADS: usize = 32;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add_singleton::<Svc>(move |sp| {
        counted.fetch_add(1, Ordering::SeqCst);
        std::thread::yield_now();
        per_key("")(sp)
    });
    let provider = services.build()?;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (provider, barrier) = (provider.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                provider.keyed(&"hot").get::<Svc>()
            })
        })
        .collect();
    let got: Vec<Arc<Svc>> =
        handles.into_iter().map(|h| h.join().expect("resolver thread does not panic")).collect::<Result<_, _>>()?;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the factory runs once for the key");
    assert!(got.iter().all(|s| Arc::ptr_eq(s, &got[0])), "every thread got the same instance");
    Ok(())
}

// Disposal: instances made for keys are disposed with the rest, in reverse creation order.
#[test]
fn per_key_instances_are_disposed_in_reverse_creation_order() -> TestResult {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut services = ServiceCollection::new();
    let l = log.clone();
    services.keyed(AnyKey).add::<Svc>(Lifetime::Singleton, Source::from_fn(per_key("any-"))).on_dispose(
        move |s: &Svc| {
            l.lock().expect("log lock").push(s.0.clone());
            Ok(())
        },
    );
    let l = log.clone();
    services.keyed("exact").add_singleton::<Svc>(named("exact")).on_dispose(move |s: &Svc| {
        l.lock().expect("log lock").push(s.0.clone());
        Ok(())
    });
    let provider = services.build()?;
    provider.keyed(&"a").get::<Svc>()?;
    provider.keyed(&"exact").get::<Svc>()?;
    provider.keyed(&"b").get::<Svc>()?;
    provider.dispose_sync()?;
    assert_eq!(*log.lock().expect("log lock"), ["any-b", "exact", "any-a"], "newest first, each once");
    Ok(())
}

// Cycles are per key: an AnyKey factory may resolve another key of its own type, not its own key.
#[test]
fn cycles_are_detected_per_key() -> TestResult {
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add_singleton::<Svc>(|sp| match sp.key::<&str>() {
        Some(&"outer") => Ok(Arc::new(Svc(format!("outer>{}", sp.keyed(&"inner").get::<Svc>()?.0)))),
        Some(&"self") => Ok(sp.keyed(&"self").get::<Svc>()?),
        _ => Ok(Arc::new(Svc("leaf".into()))),
    });
    let provider = services.build()?;
    assert_eq!(provider.keyed(&"outer").get::<Svc>()?.0, "outer>leaf", "another key is not a cycle");
    assert!(provider.keyed(&"self").get::<Svc>().unwrap_err().is_cycle(), "the same key is a cycle");
    Ok(())
}

// Build-time validation: a declared keyed dependency is satisfied by an AnyKey registration.
#[test]
fn declared_keyed_dependency_is_satisfied_by_an_any_key_registration() -> TestResult {
    struct Consumer;
    let mut services = ServiceCollection::new();
    services.add_singleton::<Consumer>(|_| Ok(Arc::new(Consumer))).depends_on_keyed::<Arc<Svc>, _>("k");
    assert!(services.build().is_err(), "without any registration the dependency is missing");
    services.keyed(AnyKey).add::<Svc>(Lifetime::Singleton, Source::from_fn(per_key("")));
    let provider = services.build()?;
    assert_eq!(provider.keyed(&"k").get::<Svc>()?.0, "k");
    Ok(())
}

/// A key whose `Eq` blocks, the first time it is asked, until the test lets it go.
#[derive(Clone, Debug)]
struct SlowKey {
    id: u32,
    gate: Option<Arc<Mutex<Option<std::sync::mpsc::Receiver<()>>>>>,
}

impl PartialEq for SlowKey {
    fn eq(&self, other: &Self) -> bool {
        for key in [self, other] {
            let waiting = key.gate.as_ref().and_then(|g| g.lock().expect("unpoisoned").take());
            if let Some(released) = waiting {
                let _ = released.recv_timeout(std::time::Duration::from_secs(10));
            }
        }
        self.id == other.id
    }
}

impl Eq for SlowKey {}

impl std::hash::Hash for SlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// The per-key cache runs no user code under a lock other resolutions need: while one resolve
/// is stuck in a key's `Eq`, others (new keys, so inserts into every shard) go on.
#[test]
fn a_key_whose_eq_blocks_does_not_block_other_keys() -> TestResult {
    use std::time::Duration;
    let mut services = ServiceCollection::new();
    services.keyed(AnyKey).add_singleton::<Svc>(|sp| {
        let id = sp.key::<SlowKey>().map_or(0, |k| k.id);
        Ok(Arc::new(Svc(format!("svc-{id}"))))
    });
    let provider = services.build()?;
    provider.keyed(&SlowKey { id: 1, gate: None }).get::<Svc>()?;

    let (release, released) = std::sync::mpsc::channel();
    let gated = SlowKey { id: 1, gate: Some(Arc::new(Mutex::new(Some(released)))) };
    let stuck = {
        let provider = provider.clone();
        std::thread::spawn(move || provider.keyed(&gated).get::<Svc>().map(|s| s.0.clone()))
    };
    std::thread::sleep(Duration::from_millis(50)); // let it reach the blocking `Eq`

    let (done, finished) = std::sync::mpsc::channel();
    let others = std::thread::spawn(move || {
        for id in 100..164 {
            provider.keyed(&SlowKey { id, gate: None }).get::<Svc>().expect("resolves");
        }
        done.send(()).expect("the test waits");
    });
    let went_on = finished.recv_timeout(Duration::from_secs(5)).is_ok();
    release.send(()).ok();
    assert!(went_on, "64 other keys resolved while one key's `Eq` was blocked");
    others.join().expect("no panic");
    assert_eq!(stuck.join().expect("no panic")?, "svc-1", "the blocked resolve found the cached instance");
    Ok(())
}
