//! Thread safety: exactly-once creation under races, no deadlock between the container and user
//! locks taken inside factories, cross-thread cycles fail instead of hanging (reference §1.8).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use di_core::{BoxError, ResolveError, Resolver, ServiceCollection, ServiceProvider};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Expensive;

/// A factory slow enough for the racers to pile up behind it, without sleeping.
fn counted_slow_factory(
    calls: &Arc<AtomicUsize>,
) -> impl Fn(&Resolver<'_>) -> Result<Arc<Expensive>, BoxError> + Send + Sync + use<> {
    let calls = calls.clone();
    move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        for _ in 0..1_000 {
            thread::yield_now();
        }
        Ok(Arc::new(Expensive))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn singleton_factory_runs_once_when_64_tasks_race() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add_singleton::<Expensive>(counted_slow_factory(&calls));
    let provider = services.build()?;
    let barrier = Arc::new(tokio::sync::Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let (provider, barrier) = (provider.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                provider.get::<Expensive>()
            })
        })
        .collect();
    let mut instances = Vec::new();
    for h in handles {
        instances.push(h.await??);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the singleton factory ran more than once");
    assert!(instances.iter().all(|i| Arc::ptr_eq(i, &instances[0])), "every task got the same instance");
    Ok(())
}

#[test]
fn singleton_factory_runs_once_when_64_threads_race() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add_singleton::<Expensive>(counted_slow_factory(&calls));
    let provider = services.build()?;
    let barrier = Barrier::new(64);
    let instances: Vec<Arc<Expensive>> = thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    provider.get::<Expensive>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("resolver thread panicked")).collect::<Result<_, _>>()
    })?;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the singleton factory ran more than once");
    assert!(instances.iter().all(|i| Arc::ptr_eq(i, &instances[0])), "every thread got the same instance");
    Ok(())
}

#[test]
fn scoped_factory_runs_once_per_scope_when_threads_race() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    services.add_scoped::<Expensive>(counted_slow_factory(&calls));
    let provider = services.build()?;
    let scopes = [provider.create_scope()?, provider.create_scope()?];
    let barrier = Barrier::new(32);
    let instances: Vec<(usize, Arc<Expensive>)> = thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|i| {
                let (scopes, barrier) = (&scopes, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    scopes[i % 2].provider().get::<Expensive>().map(|e| (i % 2, e))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("resolver thread panicked")).collect::<Result<_, _>>()
    })?;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one creation per scope");
    for (scope, instance) in &instances {
        assert!(
            Arc::ptr_eq(instance, &scopes[*scope].provider().get::<Expensive>()?),
            "scope {scope} shares one instance"
        );
    }
    Ok(())
}

// Row 135.
#[test]
fn second_thread_waits_for_the_singleton_being_created_and_gets_the_same_instance() -> TestResult {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Expensive>(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        entered_tx.send(())?;
        release_rx.lock().unwrap().recv()?;
        Ok(Arc::new(Expensive))
    });
    let provider = services.build()?;
    let (first, second) = thread::scope(|s| {
        let first = s.spawn(|| provider.get::<Expensive>());
        entered_rx.recv().expect("the factory started");
        let second = s.spawn(|| provider.get::<Expensive>());
        release_tx.send(()).expect("the factory is waiting");
        (first.join().expect("first resolver"), second.join().expect("second resolver"))
    });
    assert!(Arc::ptr_eq(&first?, &second?), "both threads got the one instance");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the factory ran once");
    Ok(())
}

/// Row 136: thread 2 holds a user lock and resolves singleton `Other`, while thread 1 is inside
/// singleton `Locking`'s factory, which wants that user lock. With a container-wide lock held
/// around factories this deadlocks; with per-registration creation it does not.
#[test]
fn user_lock_taken_inside_a_factory_does_not_deadlock_with_another_singleton() -> TestResult {
    struct Locking;
    struct Other;
    let user_lock = Arc::new(Mutex::new(Vec::new()));
    let (entered_tx, entered_rx) = mpsc::channel();
    let in_factory = user_lock.clone();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Locking>(move |_| {
        entered_tx.send(())?;
        in_factory.lock().unwrap().push("3: Locking's factory got the user lock");
        Ok(Arc::new(Locking))
    });
    services.add_singleton::<Other>(|_| Ok(Arc::new(Other)));
    let provider = services.build()?;
    thread::scope(|s| -> TestResult {
        let mut held = user_lock.lock().unwrap();
        held.push("1: thread 2 holds the user lock");
        let first = s.spawn(|| provider.get::<Locking>().map(drop));
        entered_rx.recv()?;
        provider.get::<Other>()?;
        held.push("2: thread 2 resolved a singleton while Locking's factory runs");
        drop(held);
        first.join().expect("thread 1 panicked")?;
        Ok(())
    })?;
    let mut order = user_lock.lock().unwrap().clone();
    order.push("4: done");
    assert_eq!(
        order,
        [
            "1: thread 2 holds the user lock",
            "2: thread 2 resolved a singleton while Locking's factory runs",
            "3: Locking's factory got the user lock",
            "4: done"
        ]
    );
    Ok(())
}

/// Row 137: the same with a deeper graph on both sides.
#[test]
fn user_lock_inside_a_deep_singleton_graph_does_not_deadlock() -> TestResult {
    struct Top(Arc<Middle>);
    struct Middle(Arc<Bottom>);
    struct Bottom;
    struct Side(Arc<Leaf>);
    struct Leaf;
    let user_lock = Arc::new(Mutex::new(()));
    let (entered_tx, entered_rx) = mpsc::channel();
    let in_factory = user_lock.clone();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Top>(|sp| Ok(Arc::new(Top(sp.get()?))));
    services.add_singleton::<Middle>(|sp| Ok(Arc::new(Middle(sp.get()?))));
    services.add_singleton::<Bottom>(move |_| {
        entered_tx.send(())?;
        drop(in_factory.lock().unwrap());
        Ok(Arc::new(Bottom))
    });
    services.add_transient::<Side>(|sp| Ok(Arc::new(Side(sp.get()?))));
    services.add_singleton::<Leaf>(|_| Ok(Arc::new(Leaf)));
    let provider = services.build()?;
    let side = thread::scope(|s| -> Result<Arc<Side>, Box<dyn std::error::Error>> {
        let held = user_lock.lock().unwrap();
        let first = s.spawn(|| provider.get::<Top>().map(drop));
        entered_rx.recv()?;
        let side = provider.get::<Side>()?;
        drop(held);
        first.join().expect("thread 1 panicked")?;
        Ok(side)
    })?;
    assert!(Arc::ptr_eq(&provider.get::<Top>()?.0.0, &provider.get::<Bottom>()?), "one graph, built once");
    assert!(Arc::ptr_eq(&side.0, &provider.get::<Leaf>()?), "the other side's singleton is shared too");
    Ok(())
}

// Row 138.
#[test]
fn ten_singletons_resolved_concurrently_for_100_rounds_are_each_created_once() -> TestResult {
    macro_rules! singletons {
        ($($name:ident),*) => {
            $(struct $name;)*
            fn register(services: &mut ServiceCollection, calls: &Arc<[AtomicUsize; 10]>) {
                let mut i = 0;
                $(
                    let counted = calls.clone();
                    let slot = i;
                    services.add_singleton::<$name>(move |_| {
                        counted[slot].fetch_add(1, Ordering::SeqCst);
                        Ok(Arc::new($name))
                    });
                    i += 1;
                )*
                let _ = i;
            }
            fn resolve_all(sp: &ServiceProvider, start: usize) -> Result<Vec<usize>, ResolveError> {
                let getters: [fn(&ServiceProvider) -> Result<usize, ResolveError>; 10] =
                    [$(|sp| sp.get::<$name>().map(|a| Arc::as_ptr(&a) as usize)),*];
                (0..10).map(|i| getters[(start + i) % 10](sp)).collect()
            }
        };
    }
    singletons!(S0, S1, S2, S3, S4, S5, S6, S7, S8, S9);

    for round in 0..100 {
        let calls: Arc<[AtomicUsize; 10]> = Arc::new(Default::default());
        let mut services = ServiceCollection::new();
        register(&mut services, &calls);
        let provider = services.build()?;
        let barrier = Barrier::new(10);
        let seen: Vec<Vec<usize>> = thread::scope(|s| {
            let handles: Vec<_> = (0..10)
                .map(|start| {
                    let (provider, barrier) = (&provider, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let mut addresses = resolve_all(provider, start)?;
                        addresses.rotate_right(start);
                        Ok::<_, ResolveError>(addresses)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("resolver thread panicked")).collect::<Result<_, _>>()
        })?;
        assert!(calls.iter().all(|c| c.load(Ordering::SeqCst) == 1), "round {round}: a factory ran twice: {calls:?}");
        assert!(seen.iter().all(|s| *s == seen[0]), "round {round}: threads saw different instances");
    }
    Ok(())
}

#[test]
fn threads_resolving_a_cycle_from_both_ends_fail_instead_of_hanging() -> TestResult {
    struct A;
    struct B;
    let barrier = Arc::new(Barrier::new(2));
    let first_time = Arc::new([AtomicBool::new(true), AtomicBool::new(true)]);
    let (barrier_a, first_a) = (barrier.clone(), first_time.clone());
    let (barrier_b, first_b) = (barrier, first_time);
    let mut services = ServiceCollection::new();
    services.add_singleton::<A>(move |sp| {
        if first_a[0].swap(false, Ordering::SeqCst) {
            barrier_a.wait(); // both factories are running before either resolves the other
        }
        sp.get::<B>()?;
        Ok(Arc::new(A))
    });
    services.add_singleton::<B>(move |sp| {
        if first_b[1].swap(false, Ordering::SeqCst) {
            barrier_b.wait();
        }
        sp.get::<A>()?;
        Ok(Arc::new(B))
    });
    let provider = services.build()?;
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| provider.get::<A>().map(drop));
        let b = s.spawn(|| provider.get::<B>().map(drop));
        (a.join().expect("thread A"), b.join().expect("thread B"))
    });
    for (who, result) in [("A", a), ("B", b)] {
        let err = result.err().unwrap_or_else(|| panic!("resolving {who} must fail: A and B need each other"));
        assert!(err.is_cycle(), "{who}: expected a cycle, got {err:?}");
    }
    Ok(())
}
