//! Two resolutions started at the same moment, one of `A -> B` and one of `B -> A`, both fail
//! with a cycle instead of deadlocking; without a cycle, both succeed and share one instance.
//! Each test is bounded by a timeout so that a regression shows up as a failure, not a hang.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use di_core::{Lifetime, ResolveError, ServiceCollection, ServiceProvider, Source};

#[derive(Debug)]
struct A;
#[derive(Debug)]
struct B;

/// Far longer than the test needs; only reached if resolution hangs.
const HANG: Duration = Duration::from_secs(20);

/// A singleton whose factory, on its first call only, waits until the other factory has
/// started too, so both resolutions hold their own cell before asking for the other's.
fn gated<T: Send + Sync + 'static, Dep: Send + Sync + 'static>(
    services: &mut ServiceCollection,
    gate: &Arc<Barrier>,
    calls: &Arc<AtomicUsize>,
    needs_dep: bool,
    make: fn() -> T,
) {
    let (gate, calls) = (gate.clone(), calls.clone());
    services.add_singleton::<T>(move |sp| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            gate.wait();
        }
        if needs_dep {
            sp.get::<Dep>()?;
        }
        Ok(Arc::new(make()))
    });
}

async fn both<X, Y>(provider: &Arc<ServiceProvider>) -> (Result<Arc<X>, ResolveError>, Result<Arc<Y>, ResolveError>)
where
    X: Send + Sync + 'static,
    Y: Send + Sync + 'static,
{
    let (p1, p2) = (provider.clone(), provider.clone());
    let first = tokio::task::spawn_blocking(move || p1.get::<X>());
    let second = tokio::task::spawn_blocking(move || p2.get::<Y>());
    let joined = tokio::time::timeout(HANG, async { (first.await, second.await) }).await;
    let (first, second) = joined.expect("both resolutions finish instead of deadlocking");
    (first.expect("no panic"), second.expect("no panic"))
}

fn cycle_path(result: Result<impl std::fmt::Debug, ResolveError>) -> String {
    match result {
        Err(ResolveError::Cycle { path, .. }) => path.to_string(),
        other => panic!("expected a cycle error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossed_resolutions_both_fail_with_a_cycle() -> Result<(), Box<dyn std::error::Error>> {
    let gate = Arc::new(Barrier::new(2));
    let (a_calls, b_calls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut services = ServiceCollection::new();
    gated::<A, B>(&mut services, &gate, &a_calls, true, || A);
    gated::<B, A>(&mut services, &gate, &b_calls, true, || B);
    let provider = services.build()?;

    let (a, b) = both::<A, B>(&provider).await;
    assert_eq!(
        cycle_path(a),
        "`resolve_concurrent_cycles::A` -> `resolve_concurrent_cycles::B` -> `resolve_concurrent_cycles::A`"
    );
    assert_eq!(
        cycle_path(b),
        "`resolve_concurrent_cycles::B` -> `resolve_concurrent_cycles::A` -> `resolve_concurrent_cycles::B`"
    );

    // Nothing is left claimed: a later resolve reports the cycle again, promptly.
    let again = tokio::time::timeout(HANG, tokio::task::spawn_blocking(move || provider.get::<A>())).await??;
    assert!(again.is_err_and(|e| e.is_cycle()), "a later resolve sees the cycle too");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_resolutions_without_a_cycle_both_succeed() -> Result<(), Box<dyn std::error::Error>> {
    let gate = Arc::new(Barrier::new(2));
    let (a_calls, b_calls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut services = ServiceCollection::new();
    gated::<A, B>(&mut services, &gate, &a_calls, true, || A);
    gated::<B, A>(&mut services, &gate, &b_calls, false, || B);
    let provider = services.build()?;

    let (a, b) = both::<A, B>(&provider).await;
    assert!(a.is_ok(), "A waits for B, which is being created by the other resolution: {a:?}");
    let b = b?;
    assert!(Arc::ptr_eq(&b, &provider.get::<B>()?), "one `B`, shared");
    assert_eq!(b_calls.load(Ordering::SeqCst), 1, "B's factory ran once");
    Ok(())
}

/// The async twin of [`gated`]: a `tokio` barrier on the first call, then `get_async` of `Dep`.
fn gated_async<T: Send + Sync + 'static, Dep: Send + Sync + 'static>(
    services: &mut ServiceCollection,
    gate: &Arc<tokio::sync::Barrier>,
    calls: &Arc<AtomicUsize>,
    make: fn() -> T,
) {
    let (gate, calls) = (gate.clone(), calls.clone());
    services.add::<T>(
        Lifetime::Singleton,
        Source::from_async_fn(move |sp| {
            let (gate, calls) = (gate.clone(), calls.clone());
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    gate.wait().await;
                }
                sp.get_async::<Dep>().await?;
                Ok::<_, di_core::BoxError>(Arc::new(make()))
            }
        }),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossed_async_resolutions_both_fail_with_a_cycle() -> Result<(), Box<dyn std::error::Error>> {
    let gate = Arc::new(tokio::sync::Barrier::new(2));
    let (a_calls, b_calls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut services = ServiceCollection::new();
    gated_async::<A, B>(&mut services, &gate, &a_calls, || A);
    gated_async::<B, A>(&mut services, &gate, &b_calls, || B);
    let provider = services.build()?;

    let (p1, p2) = (provider.clone(), provider.clone());
    let a = tokio::spawn(async move { p1.get_async::<A>().await });
    let b = tokio::spawn(async move { p2.get_async::<B>().await });
    let (a, b) = tokio::time::timeout(HANG, async { (a.await, b.await) })
        .await
        .expect("both async resolutions finish instead of deadlocking");
    assert_eq!(
        cycle_path(a?),
        "`resolve_concurrent_cycles::A` -> `resolve_concurrent_cycles::B` -> `resolve_concurrent_cycles::A`"
    );
    assert_eq!(
        cycle_path(b?),
        "`resolve_concurrent_cycles::B` -> `resolve_concurrent_cycles::A` -> `resolve_concurrent_cycles::B`"
    );
    Ok(())
}
