//! Loom models of the synchronisation protocols `di-core` writes itself, driven through its
//! public API: the singleton claim and its wait/wake protocol (`resolve/once.rs`), the scoped
//! claim under the scope lock (`scope.rs`), and disposal racing a creation (root and scope).
//!
//! Built only with `RUSTFLAGS="--cfg loom"` (see `.ci/run`): `di-core` then synchronises on
//! loom's primitives (`di-core/src/sync.rs`), and `event-listener` on loom's too, so loom explores
//! the interleavings of the container's atomics, locks, listeners and blocking waits. A lost
//! wake-up shows up as a loom deadlock ("all threads blocked"), and a broken exactly-once or
//! disposal guarantee as a failed assertion. Model 8 checks an alias's cache of its target.
//!
//! Each model is two or three threads and a handful of operations; `LOOM_MAX_PREEMPTIONS`
//! bounds the search (`.ci/run` sets it; [`DEFAULT_PREEMPTIONS`] when unset). The singleton's value is in a loom `UnsafeCell`
//! published by the cell's owner word (a loom atomic), so loom explores a resolve overlapping
//! a creation and checks the value is written before it is read. The race and wait/wake
//! models (3 to 5) also count, across executions, the cases they are about, and fail if loom
//! never reached one.

#![cfg(loom)]

use std::sync::Arc;
use std::sync::atomic::AtomicUsize as StdCounter;

use di_core::{ResolveError, ServiceCollection};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

/// The preemption bound when `LOOM_MAX_PREEMPTIONS` is unset: unbounded, the three-thread models
/// do not finish in minutes; below 2, the race models do not reach the cases they check for.
const DEFAULT_PREEMPTIONS: usize = 3;

/// Runs `f` in every interleaving loom explores, within `LOOM_MAX_PREEMPTIONS` (or
/// [`DEFAULT_PREEMPTIONS`]) preemptions per execution.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(DEFAULT_PREEMPTIONS);
    builder.check(f);
}

/// The service every model resolves.
#[derive(Debug)]
struct Service;

/// A counter the factories and hooks bump (a loom atomic: it is part of the model).
fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn count(c: &AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

/// A factory error: any error type converts into the `BoxError` a factory returns.
fn failure() -> std::io::Error {
    std::io::Error::other("the first creation fails")
}

/// Which cases a model's executions reached, counted across them (outside the model: `std`
/// atomics), so a model checks that loom explored the interleavings it is about and not only
/// the easy ones.
#[derive(Debug)]
struct Coverage<const N: usize>([StdCounter; N]);

impl<const N: usize> Coverage<N> {
    const fn new() -> Self {
        Self([const { StdCounter::new(0) }; N])
    }

    fn hit(&self, case: usize) {
        self.0[case].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn assert_reached(&self, names: [&str; N]) {
        for (counter, name) in self.0.iter().zip(names) {
            let n = counter.load(std::sync::atomic::Ordering::Relaxed);
            assert!(n > 0, "loom explored no execution where {name}");
        }
    }
}

/// Model 1: Once-initialisation: two threads resolve a fresh singleton; the factory runs exactly
/// once and both get the same instance.
#[test]
fn singleton_is_created_once() {
    model(|| {
        let created = counter();
        let provider = {
            let created = created.clone();
            let mut services = ServiceCollection::new();
            services.add_singleton::<Service>(move |_| {
                created.fetch_add(1, Ordering::SeqCst);
                Ok(Arc::new(Service))
            });
            services.build().expect("valid")
        };

        // A resolve that finds the cell filled reads its value through loom's `UnsafeCell`: loom
        // checks that the creation's write happens before it (a `Relaxed` load of the owner
        // word fails here with a causality violation).
        let other = {
            let provider = provider.clone();
            thread::spawn(move || provider.get::<Service>().expect("resolves"))
        };
        let mine = provider.get::<Service>().expect("resolves");
        let theirs = other.join().expect("no panic");

        assert_eq!(count(&created), 1, "the factory runs exactly once");
        assert!(Arc::ptr_eq(&mine, &theirs), "both threads get the same instance");
    });
}

/// Model 2: Scoped claim: two threads resolve the same scoped service in one scope; it is created
/// once and both get the same instance. The factory yields, so loom prefers schedules where the
/// other thread finds the slot being created and waits on the scope (its listener and waiter
/// count).
#[test]
fn scoped_is_created_once_per_scope() {
    model(|| {
        let created = counter();
        let provider = {
            let created = created.clone();
            let mut services = ServiceCollection::new();
            services.add_scoped::<Service>(move |_| {
                created.fetch_add(1, Ordering::SeqCst);
                thread::yield_now();
                Ok(Arc::new(Service))
            });
            services.build().expect("valid")
        };
        let scope = Arc::new(provider.create_scope().expect("a live root"));

        let other = {
            let scope = scope.clone();
            thread::spawn(move || scope.provider().get::<Service>().expect("resolves"))
        };
        let mine = scope.provider().get::<Service>().expect("resolves");
        let theirs = other.join().expect("no panic");

        assert_eq!(count(&created), 1, "the factory runs exactly once per scope");
        assert!(Arc::ptr_eq(&mine, &theirs), "both threads get the scope's instance");
    });
}

/// The outcomes a dispose-vs-claim model must reach.
const DISPOSE_RACE: [&str; 3] = [
    "disposal came first (no creation)",
    "the creation finished after disposal began (its hook ran at once)",
    "the instance was handed out, then disposed",
];

/// What a dispose-vs-claim model observed, checked the same way for a scope and the root.
fn check_dispose_race(
    coverage: &Coverage<3>,
    resolved: &Result<Arc<Service>, ResolveError>,
    created: usize,
    disposed: usize,
) {
    assert!(created <= 1, "the factory ran {created} times; at most once");
    assert_eq!(disposed, created, "every created instance is disposed exactly once (created {created})");
    match resolved {
        Ok(_) => assert_eq!(disposed, 1, "an instance handed out was tracked, so disposal ran its hook"),
        Err(e) => assert!(e.is_disposed(), "a resolve racing disposal fails only as disposed: {e}"),
    }
    coverage.hit(match (resolved.is_ok(), created) {
        (false, 0) => 0,
        (false, _) => 1,
        (true, _) => 2,
    });
}

/// Model 3: Dispose vs claim, scoped: one thread resolves a scoped service with a disposal hook
/// while the other disposes the scope. Whatever the interleaving, the factory ran at most once, its
/// instance's hook ran exactly once if it ran (by the disposal, or by the resolve that finished too
/// late), an instance handed out was disposed, and the scope resolves nothing afterwards.
#[test]
fn scoped_claim_races_scope_disposal() {
    static COVERAGE: Coverage<3> = Coverage::new();
    model(|| {
        let created = counter();
        let disposed = counter();
        let provider = {
            let (created, disposed) = (created.clone(), disposed.clone());
            let mut services = ServiceCollection::new();
            services
                .add_scoped::<Service>(move |_| {
                    created.fetch_add(1, Ordering::SeqCst);
                    Ok(Arc::new(Service))
                })
                .on_dispose(move |_| {
                    disposed.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                });
            services.build().expect("valid")
        };
        let scope = Arc::new(provider.create_scope().expect("a live root"));

        let resolving = {
            let scope = scope.clone();
            thread::spawn(move || scope.provider().get::<Service>())
        };
        scope.provider().dispose_sync().expect("the hook succeeds");
        let resolved = resolving.join().expect("no panic");

        check_dispose_race(&COVERAGE, &resolved, count(&created), count(&disposed));
        let after = scope.provider().get::<Service>().expect_err("a disposed scope resolves nothing");
        assert!(after.is_disposed(), "{after}");
        assert!(count(&created) <= 1, "no creation starts after disposal");
    });
    COVERAGE.assert_reached(DISPOSE_RACE);
}

/// Model 4: Dispose vs claim, singleton: the same race on the root, whose claim is a CAS on the
/// cell followed by the disposed check, and whose hooks are tracked after the factory ran.
#[test]
fn singleton_claim_races_root_disposal() {
    static COVERAGE: Coverage<3> = Coverage::new();
    model(|| {
        let created = counter();
        let disposed = counter();
        let provider = {
            let (created, disposed) = (created.clone(), disposed.clone());
            let mut services = ServiceCollection::new();
            services
                .add_singleton::<Service>(move |_| {
                    created.fetch_add(1, Ordering::SeqCst);
                    Ok(Arc::new(Service))
                })
                .on_dispose(move |_| {
                    disposed.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                });
            services.build().expect("valid")
        };

        let resolving = {
            let provider = provider.clone();
            thread::spawn(move || provider.get::<Service>())
        };
        provider.dispose_sync().expect("the hook succeeds");
        let resolved = resolving.join().expect("no panic");

        check_dispose_race(&COVERAGE, &resolved, count(&created), count(&disposed));
        let after = provider.get::<Service>().expect_err("a disposed root resolves nothing");
        assert!(after.is_disposed(), "{after}");
        assert!(count(&created) <= 1, "no creation starts after disposal");
    });
    COVERAGE.assert_reached(DISPOSE_RACE);
}

/// The one case the wait/wake models count: a resolve began while the other thread's factory
/// was running (so its claim could find the cell owned, which the wait/wake protocol is for).
const CONTENDED: [&str; 1] = ["a resolve began while a creation was running"];

fn record_contention(coverage: &Coverage<1>, results: &[(bool, Result<Arc<Service>, ResolveError>); 2]) {
    if results.iter().any(|(contended, _)| *contended) {
        coverage.hit(0);
    }
}

/// Resolves on two threads, recording whether each began while a creation was running (so its
/// claim could find the cell owned: the contended case the wait/wake protocol is for).
fn resolve_twice(
    provider: &Arc<di_core::ServiceProvider>,
    creating: &Arc<AtomicBool>,
) -> [(bool, Result<Arc<Service>, ResolveError>); 2] {
    let other = {
        let (provider, creating) = (provider.clone(), creating.clone());
        thread::spawn(move || {
            let contended = creating.load(Ordering::SeqCst);
            (contended, provider.get::<Service>())
        })
    };
    let contended = creating.load(Ordering::SeqCst);
    let mine = (contended, provider.get::<Service>());
    [mine, other.join().expect("no panic")]
}

/// Model 5a: Wait/wake: the factory yields mid-creation, so the other thread finds the cell owned
/// and waits (listener registered, then counted, then the owner re-checked). A lost wake-up leaves
/// it blocked forever, which loom reports as a deadlock.
#[test]
fn waiter_is_woken_when_the_creation_completes() {
    static COVERAGE: Coverage<1> = Coverage::new();
    model(|| {
        let created = counter();
        let creating = Arc::new(AtomicBool::new(false));
        let provider = {
            let (created, creating) = (created.clone(), creating.clone());
            let mut services = ServiceCollection::new();
            services.add_singleton::<Service>(move |_| {
                creating.store(true, Ordering::SeqCst);
                created.fetch_add(1, Ordering::SeqCst);
                thread::yield_now();
                creating.store(false, Ordering::SeqCst);
                Ok(Arc::new(Service))
            });
            services.build().expect("valid")
        };

        let results = resolve_twice(&provider, &creating);
        record_contention(&COVERAGE, &results);
        let [(_, mine), (_, theirs)] = results;
        let (mine, theirs) = (mine.expect("resolves"), theirs.expect("resolves"));

        assert_eq!(count(&created), 1, "the waiter takes the created instance, it does not create one");
        assert!(Arc::ptr_eq(&mine, &theirs), "both threads get the same instance");
    });
    COVERAGE.assert_reached(CONTENDED);
}

/// Model 5b: Wait/wake after a failure: the first creation yields and then fails, so a waiter is
/// woken by a creation that freed the cell without filling it; it must claim again and create the
/// instance itself. Exactly one resolve fails (the one whose factory call failed), the factory ran
/// twice, and the instance the other got is the one cached.
#[test]
fn waiter_retries_when_the_creation_fails() {
    static COVERAGE: Coverage<1> = Coverage::new();
    model(|| {
        let created = counter();
        let creating = Arc::new(AtomicBool::new(false));
        let provider = {
            let (created, creating) = (created.clone(), creating.clone());
            let mut services = ServiceCollection::new();
            services.add_singleton::<Service>(move |_| {
                creating.store(true, Ordering::SeqCst);
                let call = created.fetch_add(1, Ordering::SeqCst);
                thread::yield_now();
                creating.store(false, Ordering::SeqCst);
                if call == 0 { Err(failure().into()) } else { Ok(Arc::new(Service)) }
            });
            services.build().expect("valid")
        };

        let results = resolve_twice(&provider, &creating);
        record_contention(&COVERAGE, &results);
        let ok: Vec<&Arc<Service>> = results.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
        let failed: Vec<&ResolveError> = results.iter().filter_map(|(_, r)| r.as_ref().err()).collect();

        assert_eq!(count(&created), 2, "the failed creation frees the cell; the other resolve creates it");
        assert_eq!((ok.len(), failed.len()), (1, 1), "only the resolve whose factory failed fails: {failed:?}");
        assert!(!failed[0].is_disposed() && !failed[0].is_cycle(), "a factory error: {}", failed[0]);
        let cached = provider.get::<Service>().expect("cached");
        assert!(Arc::ptr_eq(ok[0], &cached), "the successful creation is the cached one");
        assert_eq!(count(&created), 2, "and nothing creates it again");
    });
    COVERAGE.assert_reached(CONTENDED);
}

/// Two resolves and a disposal, each on its own thread: what a waiter-vs-disposal model saw.
fn check_waiter_vs_disposal(results: &[Result<Arc<Service>, ResolveError>; 2], created: usize, disposed: usize) {
    assert!(created <= 1, "the factory ran {created} times; at most once (no creation after disposal)");
    assert_eq!(disposed, created, "every created instance is disposed exactly once (created {created})");
    for r in results {
        match r {
            Ok(_) => assert_eq!(disposed, 1, "an instance handed out was tracked, so disposal ran its hook"),
            Err(e) => assert!(e.is_disposed(), "a resolve racing disposal fails only as disposed: {e}"),
        }
    }
    if let [Ok(a), Ok(b)] = results {
        assert!(Arc::ptr_eq(a, b), "both resolves got the one instance");
    }
}

/// Model 6: A waiter and disposal, scoped: two threads resolve a scoped service whose factory
/// yields (so one can wait for the other's creation) while a third disposes the scope. The waiter
/// must be woken (a creation that ends after disposal began still notifies the scope's waiters) and
/// then fail as disposed or take the instance; the instance is disposed exactly once.
#[test]
fn scoped_waiter_races_scope_disposal() {
    model(|| {
        let created = counter();
        let disposed = counter();
        let provider = {
            let (created, disposed) = (created.clone(), disposed.clone());
            let mut services = ServiceCollection::new();
            services
                .add_scoped::<Service>(move |_| {
                    created.fetch_add(1, Ordering::SeqCst);
                    thread::yield_now();
                    Ok(Arc::new(Service))
                })
                .on_dispose(move |_| {
                    disposed.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                });
            services.build().expect("valid")
        };
        let scope = Arc::new(provider.create_scope().expect("a live root"));

        let resolvers: Vec<_> = (0..2)
            .map(|_| {
                let scope = scope.clone();
                thread::spawn(move || scope.provider().get::<Service>())
            })
            .collect();
        scope.provider().dispose_sync().expect("the hook succeeds");
        let results: Vec<_> = resolvers.into_iter().map(|r| r.join().expect("no panic")).collect();
        let results: [_; 2] = results.try_into().expect("two resolves");

        check_waiter_vs_disposal(&results, count(&created), count(&disposed));
        assert!(scope.provider().get::<Service>().expect_err("disposed").is_disposed());
    });
}

/// Model 7: A waiter and disposal, singleton: the same on the root. A creation that finishes after
/// the root began disposal runs its instance's hook itself, fails, and frees the cell, which wakes
/// the waiter; the waiter claims the cell and sees the root disposed.
#[test]
fn singleton_waiter_races_root_disposal() {
    model(|| {
        let created = counter();
        let disposed = counter();
        let provider = {
            let (created, disposed) = (created.clone(), disposed.clone());
            let mut services = ServiceCollection::new();
            services
                .add_singleton::<Service>(move |_| {
                    created.fetch_add(1, Ordering::SeqCst);
                    thread::yield_now();
                    Ok(Arc::new(Service))
                })
                .on_dispose(move |_| {
                    disposed.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                });
            services.build().expect("valid")
        };

        let resolvers: Vec<_> = (0..2)
            .map(|_| {
                let provider = provider.clone();
                thread::spawn(move || provider.get::<Service>())
            })
            .collect();
        provider.dispose_sync().expect("the hook succeeds");
        let results: Vec<_> = resolvers.into_iter().map(|r| r.join().expect("no panic")).collect();
        let results: [_; 2] = results.try_into().expect("two resolves");

        check_waiter_vs_disposal(&results, count(&created), count(&disposed));
        assert!(provider.get::<Service>().expect_err("disposed").is_disposed());
    });
}

/// A second service type for the alias model.
trait Named: Send + Sync {}
impl Named for Service {}

/// Model 8: An alias's cache (`also_as`): once the target singleton exists, two threads resolve
/// the alias, and both may try to keep the cast instance in the alias's own cell (`OnceCell::cache`:
/// one wins, the other hands out its cast unkept). Loom checks the kept value is written before a
/// resolve reads it; every resolve gets the one instance, created once. Coverage: an execution
/// where a thread found the alias already kept (its resolve was the cached load).
#[test]
fn alias_cache_races_its_readers() {
    static COVERAGE: Coverage<1> = Coverage::new();
    model(|| {
        let created = counter();
        let provider = {
            let created = created.clone();
            let mut services = ServiceCollection::new();
            services
                .add_singleton::<Service>(move |_| {
                    created.fetch_add(1, Ordering::SeqCst);
                    Ok(Arc::new(Service))
                })
                .also_as::<dyn Named>(|s| s);
            services.build().expect("valid")
        };
        let target = provider.get::<Service>().expect("creates the target");
        let kept = Arc::new(AtomicBool::new(false));
        let other = {
            let (provider, kept) = (provider.clone(), kept.clone());
            thread::spawn(move || {
                let named = provider.get::<dyn Named>().expect("resolves");
                kept.store(true, Ordering::SeqCst);
                named
            })
        };
        let before = kept.load(Ordering::SeqCst);
        let mine = provider.get::<dyn Named>().expect("resolves");
        let again = provider.get::<dyn Named>().expect("resolves");
        let theirs = other.join().expect("no panic");
        if before {
            COVERAGE.hit(0);
        }
        let target: Arc<dyn Named> = target;
        for named in [&mine, &again, &theirs] {
            assert!(Arc::ptr_eq(named, &target), "the alias hands out the target's instance");
        }
        assert_eq!(count(&created), 1, "the factory runs exactly once");
    });
    COVERAGE.assert_reached(["the other thread's resolve of the alias finished before this one began"]);
}
