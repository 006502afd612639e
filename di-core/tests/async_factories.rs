//! Async factories: resolved with `get_async`, created exactly once under concurrent awaits,
//! restarted cleanly when the awaiting future is dropped, refused by sync lookups, mixed freely
//! with sync factories, and usable without any particular executor.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use di_core::{BoxError, Lifetime, ResolveError, Resolver, ServiceCollection, Source};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Pool {
    attempt: usize,
}

/// What an async factory of `Pool` returns.
type PoolFuture = std::pin::Pin<Box<dyn Future<Output = Result<Arc<Pool>, BoxError>> + Send>>;

/// An async factory that takes a (paused-clock) second and records each attempt.
fn slow_pool(calls: &Arc<AtomicUsize>) -> impl Fn(Resolver<'static>) -> PoolFuture + Send + Sync + use<> {
    let calls = calls.clone();
    move |_| {
        let attempt = calls.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(Arc::new(Pool { attempt }))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn async_singleton_factory_runs_once_for_100_concurrent_awaits() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add::<Pool>(Lifetime::Singleton, Source::from_async_fn(slow_pool(&calls)));
    let provider = services.build()?;
    let handles: Vec<_> = (0..100)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.get_async::<Pool>().await })
        })
        .collect();
    let mut pools = Vec::new();
    for h in handles {
        pools.push(h.await??);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the async factory ran more than once");
    assert!(pools.iter().all(|p| Arc::ptr_eq(p, &pools[0])), "every task got the same instance");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn async_scoped_factory_runs_once_per_scope_for_concurrent_awaits() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add::<Pool>(Lifetime::Scoped, Source::from_async_fn(slow_pool(&calls)));
    let provider = services.build()?;
    let scopes = [Arc::new(provider.create_scope()?), Arc::new(provider.create_scope()?)];
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let scope = scopes[i % 2].clone();
            tokio::spawn(async move { scope.provider().get_async::<Pool>().await.map(|p| (i % 2, p)) })
        })
        .collect();
    for h in handles {
        let (scope, pool) = h.await??;
        assert!(
            Arc::ptr_eq(&pool, &scopes[scope].provider().get_async::<Pool>().await?),
            "scope {scope}: one instance"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one creation per scope");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn dropped_await_mid_creation_leaves_nothing_behind_and_the_next_resolve_succeeds() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add::<Pool>(Lifetime::Singleton, Source::from_async_fn(slow_pool(&calls)));
    let provider = services.build()?;
    let cancelled = tokio::time::timeout(Duration::from_millis(100), provider.get_async::<Pool>()).await;
    assert!(cancelled.is_err(), "the first resolve was cancelled mid-creation");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the factory had started");
    let pool = provider.get_async::<Pool>().await?;
    assert_eq!(pool.attempt, 2, "the retry created a fresh instance, not the abandoned one");
    assert!(Arc::ptr_eq(&pool, &provider.get_async::<Pool>().await?), "which is then cached");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the factory ran twice: cancelled, then complete");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn waiter_takes_over_when_the_creating_task_is_cancelled() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add::<Pool>(Lifetime::Singleton, Source::from_async_fn(slow_pool(&calls)));
    let provider = services.build()?;
    let creator = tokio::spawn({
        let provider = provider.clone();
        async move { provider.get_async::<Pool>().await.map(drop) }
    });
    tokio::task::yield_now().await; // the creator claims the singleton and starts sleeping
    assert_eq!(calls.load(Ordering::SeqCst), 1, "creation started");
    let waiter = tokio::spawn({
        let provider = provider.clone();
        async move { provider.get_async::<Pool>().await }
    });
    tokio::task::yield_now().await; // the waiter is now waiting for the creator
    creator.abort();
    assert!(creator.await.is_err_and(|e| e.is_cancelled()), "the creator was cancelled");
    let pool = waiter.await??;
    assert_eq!(pool.attempt, 2, "the waiter ran the factory itself after the cancellation");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    Ok(())
}

#[tokio::test]
async fn failing_or_panicking_async_factory_is_retried() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.add::<Pool>(
        Lifetime::Singleton,
        Source::from_async_fn(move |_| {
            let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                match attempt {
                    1 => Err(BoxError::from("connection refused")),
                    2 => panic!("driver bug"),
                    _ => Ok(Arc::new(Pool { attempt })),
                }
            }
        }),
    );
    let provider = services.build()?;
    assert!(matches!(provider.get_async::<Pool>().await, Err(ResolveError::Factory { .. })), "error reported");
    assert!(
        matches!(provider.get_async::<Pool>().await, Err(ResolveError::FactoryPanicked { ref message, .. }) if message == "driver bug"),
        "panic caught and reported"
    );
    assert_eq!(provider.get_async::<Pool>().await?.attempt, 3, "the third attempt succeeds");
    Ok(())
}

#[tokio::test]
async fn sync_lookup_of_an_async_service_is_refused_with_a_hint() -> TestResult {
    struct Repo;
    let mut services = ServiceCollection::new();
    services.add::<Pool>(
        Lifetime::Singleton,
        Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(Pool { attempt: 1 })) }),
    );
    services.add_singleton::<Repo>(|sp| {
        sp.get::<Pool>()?;
        Ok(Arc::new(Repo))
    });
    let provider = services.build()?;
    let err = provider.get::<Pool>().err().expect("a sync get cannot run an async factory");
    let ResolveError::AsyncFactory { service, path } = &err else { panic!("expected AsyncFactory, got {err:?}") };
    assert_eq!(*service, std::any::type_name::<Pool>());
    assert!(path.is_empty());
    assert!(err.to_string().ends_with("; resolve it with `get_async().await`"), "{err}");

    let err = provider.get::<Repo>().err().expect("Repo's dependency has an async factory");
    let ResolveError::AsyncFactory { service, path } = &err else { panic!("expected AsyncFactory, got {err:?}") };
    assert_eq!(*service, std::any::type_name::<Pool>(), "the async dependency is named");
    assert_eq!(path.services(), [std::any::type_name::<Repo>()], "with the service that needed it");

    provider.get_async::<Pool>().await?;
    assert!(provider.get::<Pool>().is_ok(), "once created, a cached async singleton is served to sync lookups too");
    Ok(())
}

#[tokio::test]
async fn async_factory_can_depend_on_sync_services_and_sync_factories_on_declared_async_ones() -> TestResult {
    struct Config(u32);
    struct Client {
        pool: Arc<Pool>,
        config: Arc<Config>,
    }
    let mut services = ServiceCollection::new();
    services.add_singleton::<Config>(|_| Ok(Arc::new(Config(7))));
    services.add::<Pool>(
        Lifetime::Singleton,
        Source::from_async_fn(|sp| async move {
            let config = sp.get_async::<Config>().await?;
            Ok::<_, BoxError>(Arc::new(Pool { attempt: config.0 as usize }))
        }),
    );
    services
        .add_scoped::<Client>(|sp| Ok(Arc::new(Client { pool: sp.get()?, config: sp.get()? })))
        .depends_on::<Arc<Pool>>()
        .depends_on::<Arc<Config>>();
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let client = scope.provider().get_async::<Client>().await?;
    assert_eq!(client.pool.attempt, 7, "the async factory used the sync singleton");
    assert!(Arc::ptr_eq(&client.pool, &provider.get_async::<Pool>().await?), "the declared async dep was shared");
    assert!(Arc::ptr_eq(&client.config, &provider.get::<Config>()?));
    Ok(())
}

#[tokio::test]
async fn async_singleton_factory_receives_the_root() -> TestResult {
    struct Seen(bool);
    let mut services = ServiceCollection::new();
    services.add::<Seen>(
        Lifetime::Singleton,
        Source::from_async_fn(|sp| async move { Ok::<_, BoxError>(Arc::new(Seen(sp.provider()?.is_root()))) }),
    );
    services.add::<bool>(
        Lifetime::Scoped,
        Source::from_async_fn(|sp| async move { Ok::<_, BoxError>(Arc::new(sp.provider()?.is_root())) }),
    );
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    assert!(scope.provider().get_async::<Seen>().await?.0, "a singleton is built from the root");
    assert!(!*scope.provider().get_async::<bool>().await?, "a scoped service from its scope");
    Ok(())
}

#[tokio::test]
async fn async_lookups_cover_optional_lists_and_keys() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add::<u32>(Lifetime::Transient, Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(1)) }));
    services.add::<u32>(Lifetime::Singleton, Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(2)) }));
    services
        .keyed("k")
        .add::<u32>(Lifetime::Singleton, Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(10)) }));
    services
        .keyed("k")
        .add::<u32>(Lifetime::Transient, Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(11)) }));
    let provider = services.build()?;
    assert_eq!(*provider.get_async::<u32>().await?, 2, "last registration");
    let all: Vec<u32> = provider.resolve_async::<Vec<Arc<u32>>>().await?.iter().map(|v| **v).collect();
    assert_eq!(all, [1, 2], "registration order");
    assert_eq!(provider.resolve_async::<Option<Arc<u32>>>().await?.as_deref(), Some(&2));
    assert!(provider.resolve_async::<Option<Arc<u8>>>().await?.is_none());
    assert_eq!(*provider.keyed(&"k").get_async::<u32>().await?, 11);
    let keyed: Vec<u32> = provider.keyed(&"k").resolve_async::<Vec<Arc<u32>>>().await?.iter().map(|v| **v).collect();
    assert_eq!(keyed, [10, 11]);
    assert!(provider.keyed(&"none").resolve_async::<Option<Arc<u32>>>().await?.is_none());
    assert!(provider.keyed(&"none").get_async::<u32>().await.err().is_some_and(|e| e.is_not_registered()));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn async_cycle_is_reported_not_awaited_forever() -> TestResult {
    struct A;
    struct B;
    let mut services = ServiceCollection::new();
    services.add::<A>(
        Lifetime::Singleton,
        Source::from_async_fn(|sp| async move {
            sp.get_async::<B>().await?;
            Ok::<_, BoxError>(Arc::new(A))
        }),
    );
    services.add::<B>(
        Lifetime::Singleton,
        Source::from_async_fn(|sp| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            sp.get_async::<A>().await?;
            Ok::<_, BoxError>(Arc::new(B))
        }),
    );
    let provider = services.build()?;
    let err = provider.get_async::<A>().await.err().expect("A -> B -> A");
    let ResolveError::Cycle { path, .. } = &err else { panic!("expected Cycle, got {err:?}") };
    assert_eq!(path.services(), [std::any::type_name::<A>(), std::any::type_name::<B>(), std::any::type_name::<A>()]);
    Ok(())
}

/// The smallest executor there is: poll on this thread, park until woken.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn async_resolution_needs_no_particular_runtime() -> TestResult {
    let order = Arc::new(Mutex::new(Vec::new()));
    let log = order.clone();
    let mut services = ServiceCollection::new();
    services.add::<Pool>(
        Lifetime::Singleton,
        Source::from_async_fn(move |_| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push("created");
                Ok::<_, BoxError>(Arc::new(Pool { attempt: 1 }))
            }
        }),
    );
    let provider = services.build()?;
    let pool = block_on(provider.get_async::<Pool>())?;
    assert_eq!(pool.attempt, 1);
    block_on(provider.dispose())?;
    assert_eq!(*order.lock().unwrap(), ["created"]);
    Ok(())
}

/// An async factory may keep its `Resolver<'static>`; once the creation is over, resolving
/// through it is nested in nothing: resolving its own (transient) registration again creates a
/// new instance instead of reporting a cycle.
#[tokio::test]
async fn a_resolver_kept_past_its_creation_reports_no_false_cycle() -> TestResult {
    struct Keeper {
        resolver: Resolver<'static>,
    }
    let mut services = ServiceCollection::new();
    services.add::<Keeper>(
        Lifetime::Transient,
        Source::from_async_fn(|sp| async move { Ok::<_, BoxError>(Arc::new(Keeper { resolver: sp })) }),
    );
    let provider = services.build()?;
    let keeper = provider.get_async::<Keeper>().await?;
    let another = keeper.resolver.get_async::<Keeper>().await?;
    assert!(!Arc::ptr_eq(&keeper, &another), "a new transient, not a cycle");
    drop(another);
    drop(provider);
    let err = keeper.resolver.get_async::<Keeper>().await.err().expect("the container has ended");
    assert!(err.is_disposed(), "a kept resolver does not keep the container alive: {err:?}");
    Ok(())
}
