//! `HostingServiceCollectionExt`: registering hosted and background services on a
//! `ServiceCollection`.

use std::sync::Arc;

use di_core::{FromProvider, Lifetime, Resolver, ServiceCollection, Source};

use crate::background::{BackgroundHost, InjectedBackground};
use crate::hosted_service::{BackgroundService, HostedService};

mod sealed {
    pub trait Sealed {}
    impl Sealed for di_core::ServiceCollection {}
}

/// Registers hosted and background services on a [`ServiceCollection`]. Sealed: implemented
/// only for `ServiceCollection`.
///
/// Every method registers a singleton `dyn HostedService`, which is what the
/// [`Host`](crate::Host) resolves (as `Vec<Arc<dyn HostedService>>`) and runs, in registration
/// order. Adding the same type `T` twice with `add_hosted_service` or `add_background_service`
/// registers it once; the `*_with` factory overloads add a service on every call.
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
/// services.add_background_service::<Tick>().add_background_service::<Tick>();
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
    fn add_hosted_service<T: HostedService + FromProvider>(&mut self) -> &mut ServiceCollection;

    /// Registers the hosted service `factory` builds (once, from the root provider).
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
    /// services.add_hosted_service_with(|sp| Ok(Listener { port: sp.get::<Port>()?.0 }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn add_hosted_service_with<T, F>(&mut self, factory: F) -> &mut ServiceCollection
    where
        T: HostedService,
        F: Fn(&Resolver<'_>) -> anyhow::Result<T> + Send + Sync + 'static;

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
    fn add_background_service<T: BackgroundService + FromProvider>(&mut self) -> &mut ServiceCollection;

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
    fn add_background_service_with<T, F>(&mut self, factory: F) -> &mut ServiceCollection
    where
        T: BackgroundService,
        F: Fn(&Resolver<'_>) -> anyhow::Result<T> + Send + Sync + 'static;
}

impl HostingServiceCollectionExt for ServiceCollection {
    fn add_hosted_service<T: HostedService + FromProvider>(&mut self) -> &mut ServiceCollection {
        self.try_add_enumerable(Lifetime::Singleton, Source::<dyn HostedService>::implemented_by_with::<T>(|t| t));
        self
    }

    fn add_hosted_service_with<T, F>(&mut self, factory: F) -> &mut ServiceCollection
    where
        T: HostedService,
        F: Fn(&Resolver<'_>) -> anyhow::Result<T> + Send + Sync + 'static,
    {
        self.add_singleton::<dyn HostedService>(move |sp| Ok(Arc::new(factory(sp)?)));
        self
    }

    fn add_background_service<T: BackgroundService + FromProvider>(&mut self) -> &mut ServiceCollection {
        let source = Source::<dyn HostedService>::implemented_by_with::<InjectedBackground<T>>(|t| t);
        self.try_add_enumerable(Lifetime::Singleton, source);
        self
    }

    fn add_background_service_with<T, F>(&mut self, factory: F) -> &mut ServiceCollection
    where
        T: BackgroundService,
        F: Fn(&Resolver<'_>) -> anyhow::Result<T> + Send + Sync + 'static,
    {
        self.add_singleton::<dyn HostedService>(move |sp| {
            let service: Arc<dyn BackgroundService> = Arc::new(factory(sp)?);
            Ok(Arc::new(BackgroundHost::new(service, sp)?))
        });
        self
    }
}
