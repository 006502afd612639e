//! Cycles found while resolving (no dependency declared, so `build()` cannot see them): a
//! `Cycle` error with the full path, never a stack overflow or a hang (reference §1.7 rows 125-134).

use std::sync::Arc;

use di_core::{Lifetime, ResolveError, ServiceCollection, ServiceProvider, Source};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct A;
struct B;
struct C;
struct D;

fn name<T: ?Sized>() -> &'static str {
    std::any::type_name::<T>()
}

/// Registers `T` with a factory that resolves `Dep` first.
fn needs<T: Send + Sync + 'static, Dep: Send + Sync + 'static>(
    services: &mut ServiceCollection,
    lifetime: Lifetime,
    make: fn() -> T,
) {
    services.add::<T>(
        lifetime,
        Source::from_fn(move |sp| {
            sp.get::<Dep>()?;
            Ok::<_, di_core::BoxError>(Arc::new(make()))
        }),
    );
}

fn cycle_path(err: &ResolveError) -> Vec<&'static str> {
    match err {
        ResolveError::Cycle { path, .. } => path.services().to_vec(),
        other => panic!("expected a Cycle error, got {other:?}"),
    }
}

// Row 125.
#[test]
fn service_resolving_itself_is_a_cycle_in_every_lifetime() -> TestResult {
    for lifetime in [Lifetime::Singleton, Lifetime::Scoped, Lifetime::Transient] {
        let mut services = ServiceCollection::new();
        needs::<A, A>(&mut services, lifetime, || A);
        let provider = services.build()?;
        let scope = provider.create_scope()?;
        let err = scope.provider().get::<A>().err().expect("A needs A");
        assert_eq!(cycle_path(&err), [name::<A>(), name::<A>()], "{lifetime}: A -> A");
        assert_eq!(
            err.to_string(),
            format!(
                "dependency cycle detected for `{a}`: `{a}` -> `{a}`; break the cycle, for example by resolving one side later through `Arc<ServiceProvider>`",
                a = name::<A>()
            )
        );
    }
    Ok(())
}

// Row 126.
#[test]
fn cycle_reached_through_get_all_is_reported() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_transient::<A>(|sp| {
        sp.resolve::<Vec<Arc<A>>>()?;
        Ok(Arc::new(A))
    });
    let err = services.build()?.resolve::<Vec<Arc<A>>>().err().expect("A needs every A");
    assert_eq!(cycle_path(&err), [name::<A>(), name::<A>()]);
    Ok(())
}

// Rows 127, 128.
#[test]
fn generic_cycle_names_the_instantiation_that_repeats() -> TestResult {
    struct G<T>(std::marker::PhantomData<fn() -> T>);
    let mut services = ServiceCollection::new();
    needs::<G<u32>, G<String>>(&mut services, Lifetime::Singleton, || G(std::marker::PhantomData));
    needs::<G<String>, G<String>>(&mut services, Lifetime::Singleton, || G(std::marker::PhantomData));
    let err = services.build()?.get::<G<u32>>().err().expect("G<String> needs itself");
    let ResolveError::Cycle { service, path } = &err else { panic!("expected Cycle, got {err:?}") };
    assert_eq!(*service, name::<G<String>>(), "the repeating type is reported");
    assert_eq!(path.services(), [name::<G<u32>>(), name::<G<String>>(), name::<G<String>>()]);
    Ok(())
}

// Row 129.
#[test]
fn instance_registration_breaks_what_would_be_a_cycle() -> TestResult {
    let mut services = ServiceCollection::new();
    needs::<A, B>(&mut services, Lifetime::Singleton, || A);
    services.add(Lifetime::Singleton, Source::instance(B));
    needs::<B, A>(&mut services, Lifetime::Singleton, || B);
    services.add(Lifetime::Singleton, Source::instance(B));
    assert!(services.build()?.get::<A>().is_ok(), "the last B is an instance: no factory, no cycle");
    Ok(())
}

// Rows 131, 132.
#[test]
fn direct_and_indirect_cycles_carry_the_full_path() -> TestResult {
    let mut services = ServiceCollection::new();
    needs::<A, B>(&mut services, Lifetime::Singleton, || A);
    needs::<B, A>(&mut services, Lifetime::Singleton, || B);
    let err = services.build()?.get::<A>().err().expect("A -> B -> A");
    assert_eq!(cycle_path(&err), [name::<A>(), name::<B>(), name::<A>()]);

    let mut services = ServiceCollection::new();
    needs::<A, B>(&mut services, Lifetime::Transient, || A);
    needs::<B, C>(&mut services, Lifetime::Scoped, || B);
    needs::<C, A>(&mut services, Lifetime::Transient, || C);
    let provider = services.build()?;
    let err = provider.create_scope()?.provider().get::<A>().err().expect("A -> B -> C -> A");
    assert_eq!(cycle_path(&err), [name::<A>(), name::<B>(), name::<C>(), name::<A>()], "mixed lifetimes");
    Ok(())
}

// Row 133.
#[test]
fn diamond_is_not_a_cycle() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_transient::<A>(|sp| {
        sp.get::<B>()?;
        sp.get::<C>()?;
        Ok(Arc::new(A))
    });
    services.add_transient::<B>(|sp| {
        sp.get::<D>()?;
        Ok(Arc::new(B))
    });
    services.add_transient::<C>(|sp| {
        sp.get::<D>()?;
        Ok(Arc::new(C))
    });
    services.add_transient::<D>(|_| Ok(Arc::new(D)));
    assert!(services.build()?.get::<A>().is_ok(), "D reached twice, but never inside itself");
    Ok(())
}

// Row 134.
#[test]
fn cycle_below_the_requested_service_starts_the_path_at_the_requester() -> TestResult {
    let mut services = ServiceCollection::new();
    needs::<D, A>(&mut services, Lifetime::Transient, || D);
    needs::<A, B>(&mut services, Lifetime::Singleton, || A);
    needs::<B, A>(&mut services, Lifetime::Singleton, || B);
    let err = services.build()?.get::<D>().err().expect("D -> A -> B -> A");
    assert_eq!(cycle_path(&err), [name::<D>(), name::<A>(), name::<B>(), name::<A>()]);
    Ok(())
}

#[test]
fn cycle_fails_and_the_container_stays_usable() -> TestResult {
    let mut services = ServiceCollection::new();
    needs::<A, B>(&mut services, Lifetime::Singleton, || A);
    needs::<B, A>(&mut services, Lifetime::Singleton, || B);
    services.add_singleton::<C>(|_| Ok(Arc::new(C)));
    let provider = services.build()?;
    for _ in 0..3 {
        assert!(provider.get::<B>().err().is_some_and(|e| e.is_cycle()), "the cycle fails every time");
    }
    assert!(provider.get::<C>().is_ok(), "unrelated services still resolve");
    Ok(())
}

#[test]
fn factory_resolving_itself_through_a_provider_handle_fails_instead_of_hanging() -> TestResult {
    for lifetime in [Lifetime::Singleton, Lifetime::Scoped] {
        let mut services = ServiceCollection::new();
        services.add::<A>(
            lifetime,
            Source::from_fn(|sp| {
                let handle = sp.get::<ServiceProvider>()?;
                handle.get::<A>()?;
                Ok::<_, di_core::BoxError>(Arc::new(A))
            }),
        );
        services.add::<B>(
            lifetime,
            Source::from_fn(|sp| {
                sp.clone().get::<B>()?;
                Ok::<_, di_core::BoxError>(Arc::new(B))
            }),
        );
        let provider = services.build()?;
        let scope = provider.create_scope()?;
        for err in [
            scope.provider().get::<A>().err().expect("A needs A"),
            scope.provider().get::<B>().err().expect("B needs B"),
        ] {
            let path = cycle_path(&err);
            assert_eq!(path.len(), 2, "{lifetime}: a cycle of one service: {path:?}");
            assert_eq!(path[0], path[1], "{lifetime}: the service repeats: {path:?}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn async_factory_resolving_itself_through_a_provider_handle_fails_instead_of_hanging() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add::<A>(
        Lifetime::Singleton,
        Source::from_async_fn(|sp| async move {
            let handle = sp.get_async::<ServiceProvider>().await?;
            handle.get_async::<A>().await?;
            Ok::<_, di_core::BoxError>(Arc::new(A))
        }),
    );
    let provider = services.build()?;
    let err = provider.get_async::<A>().await.err().expect("A needs A");
    assert_eq!(cycle_path(&err), [name::<A>(), name::<A>()]);
    Ok(())
}
