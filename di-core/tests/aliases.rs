//! `Registration::also_as`: one registration's instance under a second service type: the same
//! `Arc`, in registration order among the second type's registrations, validated and named as
//! the first, for every lifetime, sync and async.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use di_core::{BuildError, Lifetime, ResolveError, ServiceCollection, Source, ValidationError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

trait Named: Send + Sync {
    fn name(&self) -> &'static str;
}

struct First;
impl Named for First {
    fn name(&self) -> &'static str {
        "first"
    }
}

struct Second;
impl Named for Second {
    fn name(&self) -> &'static str {
        "second"
    }
}

struct Session;
struct Db;

fn counted<T: Send + Sync + 'static>(
    calls: &Arc<AtomicUsize>,
    make: fn() -> T,
) -> impl Fn(&di_core::Resolver<'_>) -> Result<Arc<T>, di_core::BoxError> + Send + Sync + 'static {
    let calls = calls.clone();
    move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(make()))
    }
}

#[test]
fn a_singleton_alias_is_the_same_instance_created_once() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add_singleton::<First>(counted(&calls, || First)).also_as::<dyn Named>(|f| f);
    let provider = services.build()?;
    let named = provider.get::<dyn Named>()?;
    let first = provider.get::<First>()?;
    assert!(Arc::ptr_eq(&named, &(first as Arc<dyn Named>)), "the alias hands out the target's Arc");
    assert!(Arc::ptr_eq(&named, &provider.get::<dyn Named>()?), "and the same one again");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one instance, one factory call");
    Ok(())
}

#[test]
fn a_kept_singleton_alias_stays_the_one_instance_across_threads() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add_singleton::<First>(counted(&calls, || First)).also_as::<dyn Named>(|f| f);
    let provider = services.build()?;
    // The target first: the alias's resolves then race to keep its cast instance.
    let target: Arc<dyn Named> = provider.get::<First>()?;
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (provider, barrier) = (provider.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..100).map(|_| provider.get::<dyn Named>()).collect::<Result<Vec<_>, _>>()
            })
        })
        .collect();
    for thread in threads {
        for named in thread.join().expect("no panic")? {
            assert!(Arc::ptr_eq(&named, &target), "every resolve of the alias is the target's instance");
        }
    }
    let all = provider.resolve::<Vec<Arc<dyn Named>>>()?;
    assert!(all.len() == 1 && Arc::ptr_eq(&all[0], &target), "and so is the list of the alias's type");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one factory call");
    Ok(())
}

#[test]
fn a_kept_singleton_alias_is_refused_once_the_container_is_disposed() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<First>(|_| Ok(Arc::new(First))).also_as::<dyn Named>(|f| f);
    let provider = services.build()?;
    provider.get::<dyn Named>()?;
    provider.get::<dyn Named>()?; // its target existed: this one kept the alias's instance
    let scope = provider.create_scope()?;
    provider.dispose_sync()?;
    for refused in [provider.get::<dyn Named>(), scope.provider().get::<dyn Named>()] {
        assert!(matches!(&refused, Err(e) if e.is_disposed()), "the root is disposed: {:?}", refused.err());
    }
    Ok(())
}

#[test]
fn aliases_keep_registration_order_among_the_second_type() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Second>(|_| Ok(Arc::new(Second))).also_as::<dyn Named>(|s| s);
    services.add_singleton::<dyn Named>(|_| Ok(Arc::new(First)));
    services.keyed("k").add_singleton::<First>(|_| Ok(Arc::new(First))).also_as::<dyn Named>(|f| f);
    let provider = services.build()?;
    let names: Vec<_> = provider.resolve::<Vec<Arc<dyn Named>>>()?.iter().map(|n| n.name()).collect();
    assert_eq!(names, ["second", "first", "first"], "in the order the registrations were added");
    let keyed = provider.keyed(&"k").get::<First>()?;
    let last = provider.resolve::<Vec<Arc<dyn Named>>>()?.pop().expect("three");
    assert!(Arc::ptr_eq(&last, &(keyed as Arc<dyn Named>)), "a keyed target: its instance");
    Ok(())
}

#[test]
fn asking_twice_for_the_same_type_adds_one_alias() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<First>(|_| Ok(Arc::new(First))).also_as::<dyn Named>(|f| f).also_as::<dyn Named>(|f| f);
    assert_eq!(services.len(), 2, "the registration and one alias");
    assert_eq!(services.build()?.resolve::<Vec<Arc<dyn Named>>>()?.len(), 1);
    Ok(())
}

#[test]
fn aliases_of_distinct_keys_are_each_kept_and_a_repeated_target_once() -> TestResult {
    let mut services = ServiceCollection::new();
    for key in 0..3 {
        services.keyed(key).add_singleton::<First>(|_| Ok(Arc::new(First))).also_as::<dyn Named>(|f| f);
    }
    // A second registration under key 1: the alias of (`First`, 1) exists already.
    services.keyed(1).add_singleton::<First>(|_| Ok(Arc::new(First))).also_as::<dyn Named>(|f| f);
    assert_eq!(services.len(), 4 + 3, "four registrations, three aliases");
    // Removing the aliases and asking again adds one again (the fast path must not assume it exists).
    assert_eq!(services.remove::<dyn Named>(), 3);
    services.keyed(2).add_singleton::<First>(|_| Ok(Arc::new(First))).also_as::<dyn Named>(|f| f);
    assert_eq!(services.build()?.resolve::<Vec<Arc<dyn Named>>>()?.len(), 1);
    Ok(())
}

#[test]
fn the_alias_follows_the_registration_a_resolve_of_the_target_uses() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<First>(|_| Ok(Arc::new(First))).also_as::<dyn Named>(|f| f);
    services.replace::<First>(Lifetime::Singleton, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(First))));
    let provider = services.build()?;
    let named = provider.get::<dyn Named>()?;
    assert!(Arc::ptr_eq(&named, &(provider.get::<First>()? as Arc<dyn Named>)), "the replacement's instance");
    Ok(())
}

#[test]
fn a_scoped_alias_is_the_scopes_instance() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_scoped::<First>(|_| Ok(Arc::new(First))).also_as::<dyn Named>(|f| f);
    let provider = services.build()?;
    let one = provider.create_scope()?;
    let two = provider.create_scope()?;
    let named = one.provider().get::<dyn Named>()?;
    assert!(Arc::ptr_eq(&named, &(one.provider().get::<First>()? as Arc<dyn Named>)), "same scope, same instance");
    let other = two.provider().get::<dyn Named>()?;
    assert!(!Arc::ptr_eq(&named, &other), "another scope, another instance");
    // Resolved again once both exist: a scoped target is kept by its scope, never by the alias.
    assert!(Arc::ptr_eq(&named, &one.provider().get::<dyn Named>()?), "the first scope's, again");
    assert!(Arc::ptr_eq(&other, &two.provider().get::<dyn Named>()?), "the second scope's, again");
    Ok(())
}

#[test]
fn a_transient_alias_creates_a_target_per_resolve() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add_transient::<First>(counted(&calls, || First)).also_as::<dyn Named>(|f| f);
    let provider = services.build()?;
    let a = provider.get::<dyn Named>()?;
    let b = provider.get::<dyn Named>()?;
    let c = provider.get::<dyn Named>()?;
    assert!(!Arc::ptr_eq(&a, &b) && !Arc::ptr_eq(&b, &c), "a transient target: a new instance each time");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "one factory call per resolve");
    Ok(())
}

#[test]
fn validation_names_the_target_and_reports_its_problems_once() {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Session>(|_| Ok(Arc::new(Session)));
    services
        .add_singleton::<First>(|sp| {
            sp.get::<Db>()?;
            sp.get::<Session>()?;
            Ok(Arc::new(First))
        })
        .depends_on::<Arc<Db>>()
        .depends_on::<Arc<Session>>()
        .also_as::<dyn Named>(|f| f);
    let Err(BuildError::Invalid { problems }) = services.build() else { panic!("two problems expected") };
    let first = std::any::type_name::<First>();
    assert_eq!(problems.len(), 2, "each problem once, not again for the alias: {problems:?}");
    assert!(
        matches!(&problems[0], ValidationError::MissingDependency { service, .. } if *service == first),
        "the missing dependency names `First`: {}",
        problems[0]
    );
    assert!(
        matches!(&problems[1], ValidationError::CapturedScoped { singleton, .. } if *singleton == first),
        "the captive names `First`: {}",
        problems[1]
    );
    assert!(problems.iter().all(|p| !p.to_string().contains("Named")), "no alias type in the text: {problems:?}");
}

#[test]
fn a_cycle_through_an_alias_is_an_error_not_a_hang() {
    let mut services = ServiceCollection::new();
    services
        .add_singleton::<First>(|sp| {
            sp.get::<dyn Named>()?;
            Ok(Arc::new(First))
        })
        .also_as::<dyn Named>(|f| f);
    let provider = services.build_with(di_core::ProviderOptions::default().validate_on_build(false)).expect("builds");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(provider.get::<dyn Named>().map(|_| ()));
    });
    let result = rx.recv_timeout(Duration::from_secs(10)).expect("the resolve returns");
    assert!(matches!(result, Err(ResolveError::Cycle { .. })), "a cycle, got {result:?}");
}

#[tokio::test]
async fn an_async_target_resolves_through_its_alias_on_the_async_path() -> TestResult {
    let mut services = ServiceCollection::new();
    services
        .add::<First>(
            Lifetime::Singleton,
            Source::from_async_fn(|_| async {
                tokio::task::yield_now().await;
                Ok::<_, di_core::BoxError>(Arc::new(First))
            }),
        )
        .also_as::<dyn Named>(|f| f);
    let provider = services.build()?;
    assert!(
        matches!(provider.get::<dyn Named>(), Err(ResolveError::AsyncFactory { .. })),
        "a sync resolve cannot create an async target"
    );
    let named = tokio::time::timeout(Duration::from_secs(10), provider.get_async::<dyn Named>()).await??;
    assert!(Arc::ptr_eq(&named, &(provider.get::<First>()? as Arc<dyn Named>)), "the async target's instance");
    Ok(())
}

#[tokio::test]
async fn an_async_transient_target_is_created_per_resolve_and_its_hooks_kept_by_the_scope() -> TestResult {
    let created = Arc::new(AtomicUsize::new(0));
    let disposed = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    let (c, d) = (created.clone(), disposed.clone());
    services
        .add::<Second>(
            Lifetime::Transient,
            Source::from_async_fn(move |_| {
                let created = c.clone();
                async move {
                    tokio::task::yield_now().await;
                    created.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, di_core::BoxError>(Arc::new(Second))
                }
            }),
        )
        .on_dispose(move |_| {
            d.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .also_as::<dyn Named>(|s| s);
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    assert!(
        matches!(scope.provider().get::<dyn Named>(), Err(ResolveError::AsyncFactory { .. })),
        "a sync resolve cannot create an async target"
    );
    let resolve = || tokio::time::timeout(Duration::from_secs(10), scope.provider().get_async::<dyn Named>());
    let (a, b) = (resolve().await??, resolve().await??);
    assert_eq!((a.name(), b.name()), ("second", "second"));
    assert!(!Arc::ptr_eq(&a, &b), "a transient target: one instance per resolve");
    assert_eq!(created.load(Ordering::SeqCst), 2);
    assert_eq!(disposed.load(Ordering::SeqCst), 0, "kept by the scope until it ends");
    tokio::time::timeout(Duration::from_secs(10), scope.dispose()).await??;
    assert_eq!(disposed.load(Ordering::SeqCst), 2, "both instances' hooks ran with the scope");
    Ok(())
}
