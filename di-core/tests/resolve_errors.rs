//! The exact `Display` text of every `ResolveError` variant, the run-time checks that catch what
//! factories did not declare (with the same path text as build-time validation), and factory
//! panics contained as errors with the container still usable afterwards.

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use di_core::{Lifetime, ResolveError, ServiceCollection, ServiceProvider, Source};

#[derive(Debug)]
struct A;
#[derive(Debug)]
struct B;
#[derive(Debug)]
struct D;
#[derive(Debug)]
struct Db;
#[derive(Debug)]
struct Repo;
#[derive(Debug)]
struct Request;
#[derive(Debug)]
struct Cache;
#[derive(Debug)]
struct Handler;

/// Registers `T`, whose factory resolves `Dep` without declaring it.
fn needs<T: Send + Sync + 'static, Dep: Send + Sync + 'static>(
    services: &mut ServiceCollection,
    lifetime: Lifetime,
    make: fn() -> T,
) {
    add_resolving::<T, Dep>(services, lifetime, make, false);
}

/// The same registration with the dependency declared, for comparing with build-time validation.
fn declares<T: Send + Sync + 'static, Dep: Send + Sync + 'static>(
    services: &mut ServiceCollection,
    lifetime: Lifetime,
    make: fn() -> T,
) {
    add_resolving::<T, Dep>(services, lifetime, make, true);
}

fn add_resolving<T: Send + Sync + 'static, Dep: Send + Sync + 'static>(
    services: &mut ServiceCollection,
    lifetime: Lifetime,
    make: fn() -> T,
    declare: bool,
) {
    let mut registration = services.add::<T>(
        lifetime,
        Source::from_fn(move |sp| {
            sp.get::<Dep>()?;
            Ok::<_, di_core::BoxError>(Arc::new(make()))
        }),
    );
    if declare {
        registration.depends_on::<Arc<Dep>>();
    }
}

#[test]
fn not_registered_names_the_type() -> Result<(), Box<dyn std::error::Error>> {
    let provider = ServiceCollection::new().build()?;
    let err = provider.get::<Db>().expect_err("nothing registered");
    assert!(err.is_not_registered(), "expected NotRegistered, got {err:?}");
    assert_eq!(
        err.to_string(),
        "no service registered for `resolve_errors::Db`; register it on the `ServiceCollection` before `build()`"
    );
    Ok(())
}

#[test]
fn not_registered_keyed_names_the_key_and_the_path() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Repo>(|sp| {
        sp.keyed(&"primary").get::<Db>()?;
        Ok(Arc::new(Repo))
    });
    let provider = services.build()?;
    let err = provider.get::<Repo>().expect_err("no `Db` under \"primary\"");
    assert!(matches!(&err, ResolveError::NotRegistered { key: Some(_), .. }), "got {err:?}");
    assert_eq!(
        err.to_string(),
        "no service registered for `resolve_errors::Db` with key \"primary\" (&str) (required by `resolve_errors::Repo`); \
         register it on the `ServiceCollection` before `build()`"
    );
    Ok(())
}

#[test]
fn self_cycle_at_resolve() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    needs::<A, A>(&mut services, Lifetime::Transient, || A);
    let err = services.build()?.get::<A>().expect_err("A needs itself");
    assert!(err.is_cycle(), "expected Cycle, got {err:?}");
    assert_eq!(
        err.to_string(),
        "dependency cycle detected for `resolve_errors::A`: `resolve_errors::A` -> `resolve_errors::A`; \
         break the cycle, for example by resolving one side later through `Arc<ServiceProvider>`"
    );
    Ok(())
}

#[test]
fn cycle_at_resolve_has_the_same_text_as_at_build() -> Result<(), Box<dyn std::error::Error>> {
    let mut undeclared = ServiceCollection::new();
    needs::<D, A>(&mut undeclared, Lifetime::Singleton, || D);
    needs::<A, B>(&mut undeclared, Lifetime::Singleton, || A);
    needs::<B, A>(&mut undeclared, Lifetime::Transient, || B);
    let at_resolve = undeclared.build()?.get::<D>().expect_err("D -> A -> B -> A").to_string();
    assert_eq!(
        at_resolve,
        "dependency cycle detected for `resolve_errors::A`: `resolve_errors::D` -> `resolve_errors::A` -> \
         `resolve_errors::B` -> `resolve_errors::A`; break the cycle, for example by resolving one side later through \
         `Arc<ServiceProvider>`"
    );

    let mut declared = ServiceCollection::new();
    declares::<D, A>(&mut declared, Lifetime::Singleton, || D);
    declares::<A, B>(&mut declared, Lifetime::Singleton, || A);
    declares::<B, A>(&mut declared, Lifetime::Transient, || B);
    let at_build = declared.build().expect_err("the same cycle, declared");
    assert_eq!(at_build.problems().len(), 1);
    assert_eq!(at_build.problems()[0].to_string(), at_resolve, "build-time and run-time texts agree");
    Ok(())
}

#[test]
fn scoped_from_root() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Request>(|_| Ok(Arc::new(Request)));
    let provider = services.build()?;
    let err = provider.get::<Request>().expect_err("scoped from the root");
    assert!(matches!(err, ResolveError::ScopedFromRoot { .. }), "got {err:?}");
    assert_eq!(
        err.to_string(),
        "scoped service `resolve_errors::Request` resolved from the root provider; \
         resolve it from a scope created with `create_scope()`"
    );
    assert!(provider.create_scope()?.provider().get::<Request>().is_ok(), "fine from a scope");
    Ok(())
}

#[test]
fn scoped_from_root_through_a_transient_names_the_path() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    needs::<Handler, Request>(&mut services, Lifetime::Transient, || Handler);
    services.add_scoped::<Request>(|_| Ok(Arc::new(Request)));
    let err = services.build()?.get::<Handler>().expect_err("the transient needs a scoped service");
    assert_eq!(
        err.to_string(),
        "scoped service `resolve_errors::Request` resolved from the root provider (required by \
         `resolve_errors::Handler`); resolve it from a scope created with `create_scope()`"
    );
    Ok(())
}

#[test]
fn captured_scoped_at_resolve_has_the_same_text_as_at_build() -> Result<(), Box<dyn std::error::Error>> {
    let mut undeclared = ServiceCollection::new();
    needs::<Cache, Handler>(&mut undeclared, Lifetime::Singleton, || Cache);
    needs::<Handler, Request>(&mut undeclared, Lifetime::Transient, || Handler);
    undeclared.add_scoped::<Request>(|_| Ok(Arc::new(Request)));
    let provider = undeclared.build()?;
    let scope = provider.create_scope()?;
    let err = scope.provider().get::<Cache>().expect_err("the singleton would capture `Request`");
    assert!(matches!(err, ResolveError::CapturedScoped { .. }), "got {err:?}");
    let at_resolve = err.to_string();
    assert_eq!(
        at_resolve,
        "singleton `resolve_errors::Cache` captures scoped service `resolve_errors::Request` (required by \
         `resolve_errors::Cache` -> `resolve_errors::Handler`); resolve `resolve_errors::Request` from a scope \
         created per unit of work with `create_scope()` (through an `Arc<ServiceProvider>` that \
         `resolve_errors::Cache` keeps), or make `resolve_errors::Cache` scoped if it need not be a singleton"
    );

    let mut declared = ServiceCollection::new();
    declares::<Cache, Handler>(&mut declared, Lifetime::Singleton, || Cache);
    declares::<Handler, Request>(&mut declared, Lifetime::Transient, || Handler);
    declared.add_scoped::<Request>(|_| Ok(Arc::new(Request)));
    let at_build = declared.build().expect_err("the same captive, declared");
    assert_eq!(at_build.problems().len(), 1);
    assert_eq!(at_build.problems()[0].to_string(), at_resolve, "build-time and run-time texts agree");
    Ok(())
}

#[test]
fn factory_error_keeps_the_source() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    needs::<Repo, Db>(&mut services, Lifetime::Scoped, || Repo);
    services.add_scoped::<Db>(|_| Err("connection refused".into()));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let err = scope.provider().get::<Repo>().expect_err("the `Db` factory fails");
    assert!(matches!(err, ResolveError::Factory { .. }), "got {err:?}");
    assert_eq!(
        err.to_string(),
        "factory for `resolve_errors::Db` failed (required by `resolve_errors::Repo`); see the source error"
    );
    assert_eq!(err.source().map(ToString::to_string).as_deref(), Some("connection refused"));
    Ok(())
}

#[test]
fn factory_panic_is_contained_and_the_container_stays_usable() -> Result<(), Box<dyn std::error::Error>> {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let mut services = ServiceCollection::new();
    services.add_singleton::<Db>(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("disk on fire");
        }
        Ok(Arc::new(Db))
    });
    needs::<Repo, Db>(&mut services, Lifetime::Singleton, || Repo);
    services.add(Lifetime::Singleton, Source::instance(7u32));
    let provider = services.build()?;

    let err = provider.get::<Repo>().expect_err("the first `Db` factory call panics");
    assert!(matches!(&err, ResolveError::FactoryPanicked { message, .. } if message == "disk on fire"), "got {err:?}");
    assert_eq!(
        err.to_string(),
        "factory for `resolve_errors::Db` panicked with message \"disk on fire\" (required by \
         `resolve_errors::Repo`); the container is still usable and the next resolve tries again"
    );
    assert_eq!(*provider.get::<u32>()?, 7, "other services still resolve");
    let repo = provider.get::<Repo>();
    assert!(repo.is_ok(), "the next resolve runs the factory again and succeeds: {repo:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the panicking call and the retry");
    Ok(())
}

#[test]
fn factory_panic_with_a_formatted_message() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add_transient::<Db>(|_| panic!("port {} in use", 5432));
    let provider = services.build()?;
    let err = provider.get::<Db>().expect_err("panics");
    assert_eq!(
        err.to_string(),
        "factory for `resolve_errors::Db` panicked with message \"port 5432 in use\"; \
         the container is still usable and the next resolve tries again"
    );
    Ok(())
}

#[test]
fn async_factory_resolved_synchronously() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services
        .add::<Db>(Lifetime::Singleton, Source::from_async_fn(|_| async { Ok::<_, di_core::BoxError>(Arc::new(Db)) }));
    let provider = services.build()?;
    let err = provider.get::<Db>().expect_err("async factory");
    assert!(matches!(err, ResolveError::AsyncFactory { .. }), "got {err:?}");
    assert_eq!(
        err.to_string(),
        "service `resolve_errors::Db` has an async factory; resolve it with `get_async().await`"
    );
    Ok(())
}

#[tokio::test]
async fn disposed_provider_and_scope() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Request>(|_| Ok(Arc::new(Request)));
    let provider: Arc<ServiceProvider> = services.build()?;
    let scope = provider.create_scope()?;
    scope.dispose().await?;
    let err = scope.provider().get::<Request>().expect_err("the scope is disposed");
    assert!(err.is_disposed(), "got {err:?}");
    assert_eq!(
        err.to_string(),
        "cannot resolve `resolve_errors::Request`: the scope has been disposed; resolve from a live provider or scope"
    );

    provider.dispose().await?;
    let err = provider.get::<u8>().expect_err("the provider is disposed");
    assert_eq!(
        err.to_string(),
        "cannot resolve `u8`: the service provider has been disposed; resolve from a live provider or scope"
    );
    Ok(())
}

#[test]
fn resolve_error_is_send_sync_static() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<ResolveError>();
}
