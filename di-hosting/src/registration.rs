//! `HostingServiceCollectionExt`: registering hosted and background services on a
//! `ServiceCollection`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use di_core::{BoxError, FromProvider, Lifetime, Registration, Resolver, ServiceCollection, Source};

use crate::background::BackgroundHost;
use crate::hosted_service::{BackgroundService, HostedService};

mod sealed {
    pub trait Sealed {}
    impl Sealed for di_core::ServiceCollection {}
}

/// Registers hosted and background services on a [`ServiceCollection`]. Sealed: implemented
/// only for `ServiceCollection`.
///
/// Every method registers a `dyn HostedService` entry, which is what the
/// [`Host`](crate::Host) resolves (as `Vec<Arc<dyn HostedService>>`) and runs, in registration
/// order. It hands out one instance per registration: a hosted service's entry is the singleton
/// `T` itself, exposed a second time as `dyn HostedService`
/// ([`Registration::also_as`]: the same `Arc`, no second instance), a background service's
/// entry is a singleton wrapping `T` in the adapter that runs it. Adding the same type `T` twice with `add_hosted_service` or `add_background_service`
/// registers it once; the `*_with` factory overloads add a service on every call.
///
/// Each method returns the [`Registration`] of `T` itself (registered as a singleton under a
/// key private to the host, so it does not clash with your own registrations of `T`): attach
/// disposal hooks to it, and declare what a `*_with` factory resolves with
/// [`depends_on`](Registration::depends_on), so that `build()` checks it. Validation errors
/// about hosted and background services name `T`, and, since `T` is always a singleton, a
/// scoped dependency it captures is reported with the hint to resolve it from a scope per unit
/// of work ([`Registration::lifetime_fixed`]).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{BoxError, FromProvider, Resolver, ServiceCollection};
/// use di_hosting::{BackgroundService, CancellationToken, HostedService, HostingServiceCollectionExt};
///
/// struct Tick;
/// impl FromProvider for Tick {
///     fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> { Ok(Tick) }
/// }
///
/// #[async_trait::async_trait]
/// impl BackgroundService for Tick {
///     async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
///         stopping.cancelled().await;
///         Ok(())
///     }
/// }
///
/// let mut services = ServiceCollection::new();
/// services.add_background_service::<Tick>();
/// services.add_background_service::<Tick>();
/// assert_eq!(services.build()?.resolve::<Vec<Arc<dyn HostedService>>>()?.len(), 1);
/// services.add_background_service_with(|_| Ok(Tick));
/// assert_eq!(services.build()?.resolve::<Vec<Arc<dyn HostedService>>>()?.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait HostingServiceCollectionExt: sealed::Sealed {
    /// Registers `T` as a hosted service, built by constructor injection
    /// ([`FromProvider`]); its declared dependencies are validated at `build()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{BoxError, FromProvider, Resolver, ServiceCollection};
    /// use di_hosting::{CancellationToken, HostedService, HostingServiceCollectionExt};
    ///
    /// struct Cache;
    /// impl FromProvider for Cache {
    ///     fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> { Ok(Cache) }
    /// }
    /// #[async_trait::async_trait]
    /// impl HostedService for Cache {
    ///     async fn start(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
    ///     async fn stop(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
    /// }
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add_hosted_service::<Cache>();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn add_hosted_service<T: HostedService + FromProvider>(&mut self) -> Registration<'_, T>;

    /// Registers the hosted service `factory` builds (once, from the root provider). Declare
    /// what the factory resolves on the returned registration, so `build()` checks it.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// use di_hosting::{CancellationToken, HostedService, HostingServiceCollectionExt};
    ///
    /// struct Port(u16);
    /// struct Listener { port: u16 }
    /// #[async_trait::async_trait]
    /// impl HostedService for Listener {
    ///     async fn start(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
    ///     async fn stop(&self, _: CancellationToken) -> anyhow::Result<()> { Ok(()) }
    /// }
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(Port(8080)));
    /// services
    ///     .add_hosted_service_with(|sp| Ok(Listener { port: sp.get::<Port>()?.0 }))
    ///     .depends_on::<std::sync::Arc<Port>>()
    ///     .on_dispose(|listener| {
    ///         tracing::info!(port = listener.port, "listener released");
    ///         Ok(())
    ///     });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn add_hosted_service_with<T, F>(&mut self, factory: F) -> Registration<'_, T>
    where
        T: HostedService,
        F: Fn(&Resolver<'_>) -> Result<T, BoxError> + Send + Sync + 'static;

    /// Registers `T` as a background service, built by constructor injection. The host runs
    /// its `execute` on its own task (see [`BackgroundService`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{BoxError, FromProvider, Resolver, ServiceCollection};
    /// use di_hosting::{BackgroundService, CancellationToken, HostingServiceCollectionExt};
    ///
    /// struct Poller;
    /// impl FromProvider for Poller {
    ///     fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> { Ok(Poller) }
    /// }
    /// #[async_trait::async_trait]
    /// impl BackgroundService for Poller {
    ///     async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
    ///         stopping.cancelled().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add_background_service::<Poller>();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn add_background_service<T: BackgroundService + FromProvider>(&mut self) -> Registration<'_, T>;

    /// Registers the background service `factory` builds (once, from the root provider).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::ServiceCollection;
    /// use di_hosting::{BackgroundService, CancellationToken, HostingServiceCollectionExt};
    ///
    /// struct Poller;
    /// #[async_trait::async_trait]
    /// impl BackgroundService for Poller {
    ///     async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
    ///         stopping.cancelled().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add_background_service_with(|_| Ok(Poller));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn add_background_service_with<T, F>(&mut self, factory: F) -> Registration<'_, T>
    where
        T: BackgroundService,
        F: Fn(&Resolver<'_>) -> Result<T, BoxError> + Send + Sync + 'static;
}

/// The key under which hosting registers a hosted or background service as its own type `T`:
/// the `dyn HostedService` entry is an alias of it (hosted) or wraps it (background), so that
/// validation names `T` and hooks attach to `T`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HostedKey {
    /// `add_hosted_service::<T>` and `add_background_service::<T>`: one per `T`.
    Injected,
    /// A `*_with` call: one per call.
    Factory(usize),
}

fn next_factory_key() -> HostedKey {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    HostedKey::Factory(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Adds a background service's `dyn HostedService` entry, which resolves `T` under `key` and
/// wraps it with `host` (so it is not an alias: the entry is another object);
/// with `once`, only if this very entry (same `T`) is not there yet. It declares no dependency
/// on `T`: `T`'s own registration declares what `T` needs, so that `build()` reports those
/// problems from `T` (named `T`), not from the `dyn HostedService` entry.
fn forward<T, H>(services: &mut ServiceCollection, key: &HostedKey, host: H, once: bool)
where
    T: Send + Sync + 'static,
    H: Fn(Arc<T>, &Resolver<'_>) -> Result<Arc<dyn HostedService>, BoxError> + Send + Sync + 'static,
{
    let lookup = key.clone();
    let source = Source::<dyn HostedService>::from_fn(move |sp| host(sp.keyed(&lookup).get::<T>()?, sp));
    if once {
        services.try_add_enumerable(Lifetime::Singleton, source);
    } else {
        services.add(Lifetime::Singleton, source);
    }
}

/// A hosted service `T` as `dyn HostedService`: the same instance (di-core's alias, resolved at
/// a cached singleton's cost once `T` exists).
fn as_hosted<T: HostedService>(service: Arc<T>) -> Arc<dyn HostedService> {
    service
}

fn as_background<T: BackgroundService>(service: Arc<T>, sp: &Resolver<'_>) -> Result<Arc<dyn HostedService>, BoxError> {
    Ok(Arc::new(BackgroundHost::new(service, sp)?))
}

impl HostingServiceCollectionExt for ServiceCollection {
    fn add_hosted_service<T: HostedService + FromProvider>(&mut self) -> Registration<'_, T> {
        let mut registration = self.keyed(HostedKey::Injected).replace(Lifetime::Singleton, Source::<T>::injected());
        registration.also_as::<dyn HostedService>(as_hosted::<T>).lifetime_fixed();
        registration
    }

    fn add_hosted_service_with<T, F>(&mut self, factory: F) -> Registration<'_, T>
    where
        T: HostedService,
        F: Fn(&Resolver<'_>) -> Result<T, BoxError> + Send + Sync + 'static,
    {
        let mut registration = self.keyed(next_factory_key()).add_singleton::<T>(move |sp| Ok(Arc::new(factory(sp)?)));
        registration.also_as::<dyn HostedService>(as_hosted::<T>).lifetime_fixed();
        registration
    }

    fn add_background_service<T: BackgroundService + FromProvider>(&mut self) -> Registration<'_, T> {
        forward::<T, _>(self, &HostedKey::Injected, as_background::<T>, true);
        let mut registration = self.keyed(HostedKey::Injected).replace(Lifetime::Singleton, Source::<T>::injected());
        registration.lifetime_fixed();
        registration
    }

    fn add_background_service_with<T, F>(&mut self, factory: F) -> Registration<'_, T>
    where
        T: BackgroundService,
        F: Fn(&Resolver<'_>) -> Result<T, BoxError> + Send + Sync + 'static,
    {
        let key = next_factory_key();
        forward::<T, _>(self, &key, as_background::<T>, false);
        let mut registration = self.keyed(key).add_singleton::<T>(move |sp| Ok(Arc::new(factory(sp)?)));
        registration.lifetime_fixed();
        registration
    }
}
