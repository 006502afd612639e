//! Auto traits: every public type of di-core is `Send + Sync` (and `Unpin` where it owns no
//! future), and the futures of the async API are `Send`, so they can cross `tokio::spawn`.

use std::sync::Arc;

use di_core::error::KeyLabel;
use di_core::{
    BuildError, Dependencies, DisposeError, DisposeFailure, KeyedLookup, KeyedServices, Lifetime, ProviderOptions,
    Registration, ResolutionPath, ResolveError, Resolver, Scope, ScopeFactory, ServiceCollection, ServiceProvider,
    Source, ValidationError,
};

const fn assert_send_sync<T: Send + Sync>() {}
const fn assert_unpin<T: Unpin>() {}
fn assert_send_future<F: std::future::Future + Send>(_: &F) {}
const fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}

trait Service: Send + Sync {}

const _: () = {
    assert_send_sync::<ServiceCollection>();
    assert_send_sync::<ServiceProvider>();
    assert_send_sync::<Arc<ServiceProvider>>();
    assert_send_sync::<Scope>();
    assert_send_sync::<ScopeFactory>();
    assert_send_sync::<Registration<'static, u8>>();
    assert_send_sync::<Registration<'static, dyn Service>>();
    assert_send_sync::<ResolveError>();
    assert_send_sync::<BuildError>();
    assert_send_sync::<ValidationError>();
    assert_send_sync::<DisposeError>();
    assert_send_sync::<DisposeFailure>();
    assert_send_sync::<ResolutionPath>();
    assert_send_sync::<Lifetime>();
    assert_send_sync::<ProviderOptions>();
    assert_send_sync::<Dependencies>();
    assert_send_sync::<di_core::error::BoxError>();
    assert_send_sync::<Source<u8>>();
    assert_send_sync::<Source<dyn Service>>();
    assert_send_sync::<KeyedServices<'static, &'static str>>();
    assert_send_sync::<KeyedLookup<'static, &'static str>>();
    assert_send_sync::<Resolver<'static>>();
    assert_send_sync::<KeyLabel>();

    assert_unpin::<ServiceCollection>();
    assert_unpin::<ServiceProvider>();
    assert_unpin::<Scope>();

    assert_error::<ResolveError>();
    assert_error::<BuildError>();
    assert_error::<ValidationError>();
    assert_error::<DisposeError>();
    assert_error::<DisposeFailure>();
};

#[test]
fn async_api_futures_are_send() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(1u8));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    assert_send_future(&provider.get_async::<u8>());
    assert_send_future(&provider.resolve_async::<Option<Arc<u8>>>());
    assert_send_future(&provider.resolve_async::<Vec<Arc<dyn Service>>>());
    assert_send_future(&provider.keyed(&"k").get_async::<u8>());
    assert_send_future(&provider.keyed(&1u32).resolve_async::<Option<Arc<u8>>>());
    assert_send_future(&provider.keyed(&"k").resolve_async::<Vec<Arc<u8>>>());
    assert_send_future(&provider.dispose());
    assert_send_future(&scope.dispose());
    Ok(())
}

#[test]
fn provider_and_scope_can_be_moved_to_and_shared_with_other_threads() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add_scoped::<u8>(|_| Ok(Arc::new(3)));
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let from_thread = std::thread::scope(|s| s.spawn(|| scope.provider().get::<u8>().map(|v| *v)).join())
        .expect("resolver thread panicked")?;
    assert_eq!(from_thread, 3, "a scope shared by reference with another thread resolves there");
    let moved =
        std::thread::spawn(move || scope.provider().get::<u8>().map(|v| *v)).join().expect("thread panicked")?;
    assert_eq!(moved, 3, "and can be moved to it");
    Ok(())
}
