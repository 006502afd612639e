//! `ServiceCollection`: the list of registrations a provider is built from.

use std::any::{Any, TypeId, type_name};
use std::future::Future;
use std::hash::Hash;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::descriptor::{Dependency, DependencyKind, Descriptor, Factory, Instance, SyncFactory};
use crate::dispose::{AsyncDispose, Dispose};
use crate::error::BuildError;
use crate::inject::{Dependencies, FromProvider, Provides};
use crate::key::{AnyKey, ServiceKey};
use crate::lifetime::Lifetime;
use crate::options::ProviderOptions;
use crate::provider::ServiceProvider;
use crate::resolve::Resolver;

/// Converts a factory's return value into the `Arc<T>` the container stores.
///
/// Implemented for any `T` (wrapped in a new `Arc`) and for `Arc<T>` itself, which is how a
/// factory returns a trait object: `Ok(Arc::new(Postgres) as Arc<dyn Db>)`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::IntoArc;
///
/// trait Greeter: Send + Sync {}
/// struct English;
/// impl Greeter for English {}
///
/// let a: Arc<u32> = 7u32.into_arc();
/// let g: Arc<dyn Greeter> = (Arc::new(English) as Arc<dyn Greeter>).into_arc();
/// assert_eq!(*a, 7);
/// ```
#[diagnostic::on_unimplemented(
    message = "a factory for `{T}` must return `{T}` or `Arc<{T}>`, not `{Self}`",
    note = "for a trait object, return `Arc::new(value) as Arc<{T}>`"
)]
pub trait IntoArc<T: ?Sized> {
    /// Wraps or passes through.
    fn into_arc(self) -> Arc<T>;
}

impl<T> IntoArc<T> for T {
    fn into_arc(self) -> Arc<Self> {
        Arc::new(self)
    }
}

impl<T: ?Sized> IntoArc<T> for Arc<T> {
    fn into_arc(self) -> Self {
        self
    }
}

/// The registrations a [`ServiceProvider`] is built from: an ordered list you add to, replace in
/// and remove from, then turn into a provider with [`build`](Self::build).
///
/// Each `add_*` method returns a [`Registration`] for the entry just added, which lets you attach
/// a disposal hook or declare dependencies, and derefs back to the collection so calls chain.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::ServiceCollection;
///
/// trait Clock: Send + Sync { fn now(&self) -> u64; }
/// struct Fixed;
/// impl Clock for Fixed { fn now(&self) -> u64 { 42 } }
///
/// struct Config { retries: u32 }
///
/// let provider = ServiceCollection::new()
///     .add_singleton_instance(Config { retries: 3 })
///     .add_singleton::<dyn Clock>(|_| Ok(Arc::new(Fixed) as Arc<dyn Clock>))
///     .add_transient::<String>(|sp| Ok(Arc::new(format!("retries={}", sp.get::<Config>()?.retries))))
///     .build()?;
///
/// assert_eq!(provider.get::<dyn Clock>()?.now(), 42);
/// assert_eq!(*provider.get::<String>()?, "retries=3");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default, Clone)]
pub struct ServiceCollection {
    descriptors: Vec<Descriptor>,
}

impl std::fmt::Debug for ServiceCollection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.descriptors).finish()
    }
}

// ===== impl ServiceCollection =====

impl ServiceCollection {
    /// An empty collection.
    ///
    /// # Examples
    ///
    /// ```
    /// let services = di_core::ServiceCollection::new();
    /// assert!(services.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// How many registrations the collection holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut services = di_core::ServiceCollection::new();
    /// services.add_singleton_instance(1u8).add_singleton_instance(2u8);
    /// assert_eq!(services.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.descriptors.len()
    }

    /// Whether the collection holds no registration.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_core::ServiceCollection::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.descriptors.is_empty()
    }

    /// Whether `T` has an unkeyed registration.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut services = di_core::ServiceCollection::new();
    /// services.add_singleton_instance(1u8);
    /// assert!(services.contains::<u8>());
    /// assert!(!services.contains::<u16>());
    /// ```
    pub fn contains<T: ?Sized + 'static>(&self) -> bool {
        self.position::<T>().is_some()
    }

    /// The lifetimes of every registration of `T` (unkeyed), in registration order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton_instance(1u8).add_transient::<u8>(|_| Ok(Arc::new(2)));
    /// assert_eq!(services.lifetimes_of::<u8>(), [Lifetime::Singleton, Lifetime::Transient]);
    /// ```
    pub fn lifetimes_of<T: ?Sized + 'static>(&self) -> Vec<Lifetime> {
        self.descriptors
            .iter()
            .filter(|d| d.service == TypeId::of::<T>() && d.key.is_none())
            .map(|d| d.lifetime)
            .collect()
    }

    fn position<T: ?Sized + 'static>(&self) -> Option<usize> {
        self.descriptors.iter().position(|d| d.service == TypeId::of::<T>() && d.key.is_none())
    }

    fn push<T: ?Sized + Send + Sync + 'static>(&mut self, descriptor: Descriptor) -> Registration<'_, T> {
        self.descriptors.push(descriptor);
        let index = self.descriptors.len() - 1;
        Registration { services: self, index, _service: std::marker::PhantomData }
    }

    /// Registers a service of any lifetime with a factory. The `add_singleton`, `add_scoped` and
    /// `add_transient` shorthands call this.
    ///
    /// The factory receives a [`Resolver`] for the scope the service is created in (the root
    /// for a singleton, the requesting scope for scoped and transient services), carrying the
    /// chain of creations it is nested in. It returns the service
    /// (`T`, or `Arc<T>` for a trait object) or an error, which the resolve reports as
    /// [`ResolveError::Factory`](crate::ResolveError::Factory).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// let provider = ServiceCollection::new()
    ///     .add::<u32>(Lifetime::Transient, |_| Ok(Arc::new(7u32)))
    ///     .build()?;
    /// assert_eq!(*provider.get::<u32>()?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add<T>(
        &mut self,
        lifetime: Lifetime,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.push(descriptor::<T>(lifetime, None, sync_factory::<T>(factory), None))
    }

    /// Registers a singleton: created once per root provider, on first use, and shared by every scope.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Pool;
    /// let provider = ServiceCollection::new().add_singleton::<Pool>(|_| Ok(Arc::new(Pool))).build()?;
    /// let scope = provider.create_scope()?;
    /// assert!(Arc::ptr_eq(&provider.get::<Pool>()?, &scope.get::<Pool>()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_singleton<T>(
        &mut self,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add(Lifetime::Singleton, factory)
    }

    /// Registers a scoped service: created once per scope, on first use within it.
    ///
    /// Resolving it from the root provider is an error ([`ResolveError::ScopedFromRoot`](crate::ResolveError::ScopedFromRoot))
    /// unless scope validation is turned off with [`ProviderOptions::validate_scopes`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct RequestId(u64);
    /// let provider = ServiceCollection::new().add_scoped::<RequestId>(|_| Ok(Arc::new(RequestId(1)))).build()?;
    /// let scope = provider.create_scope()?;
    /// assert!(Arc::ptr_eq(&scope.get::<RequestId>()?, &scope.get::<RequestId>()?));
    /// assert!(provider.get::<RequestId>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_scoped<T>(
        &mut self,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add(Lifetime::Scoped, factory)
    }

    /// Registers a transient service: a new instance on every resolve.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Message;
    /// let provider = ServiceCollection::new().add_transient::<Message>(|_| Ok(Arc::new(Message))).build()?;
    /// assert!(!Arc::ptr_eq(&provider.get::<Message>()?, &provider.get::<Message>()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_transient<T>(
        &mut self,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add(Lifetime::Transient, factory)
    }

    /// Registers `T` with constructor injection: the container builds it with
    /// [`FromProvider::from_provider`] and validates the dependencies it declares.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{FromProvider, Lifetime, Resolver, ServiceCollection};
    /// struct Clock;
    /// impl FromProvider for Clock {
    ///     fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(Clock) }
    /// }
    /// let provider = ServiceCollection::new().add_type::<Clock>(Lifetime::Singleton).build()?;
    /// provider.get::<Clock>()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_type<T: FromProvider>(&mut self, lifetime: Lifetime) -> Registration<'_, T> {
        let mut reg = self.add::<T>(lifetime, |sp| Ok(Arc::new(T::from_provider(sp)?)));
        reg.depends_on_all_of::<T>();
        reg
    }

    /// [`add_type`](Self::add_type) as a singleton.
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_core::{FromProvider, Resolver, ServiceCollection};
    /// # struct Clock;
    /// # impl FromProvider for Clock { fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(Clock) } }
    /// let provider = ServiceCollection::new().add_singleton_type::<Clock>().build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_singleton_type<T: FromProvider>(&mut self) -> Registration<'_, T> {
        self.add_type::<T>(Lifetime::Singleton)
    }

    /// [`add_type`](Self::add_type) as a scoped service.
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_core::{FromProvider, Resolver, ServiceCollection};
    /// # struct Clock;
    /// # impl FromProvider for Clock { fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(Clock) } }
    /// let provider = ServiceCollection::new().add_scoped_type::<Clock>().build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_scoped_type<T: FromProvider>(&mut self) -> Registration<'_, T> {
        self.add_type::<T>(Lifetime::Scoped)
    }

    /// [`add_type`](Self::add_type) as a transient service.
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_core::{FromProvider, Resolver, ServiceCollection};
    /// # struct Clock;
    /// # impl FromProvider for Clock { fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(Clock) } }
    /// let provider = ServiceCollection::new().add_transient_type::<Clock>().build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_transient_type<T: FromProvider>(&mut self) -> Registration<'_, T> {
        self.add_type::<T>(Lifetime::Transient)
    }

    /// Registers implementation `I` as service `S` with constructor injection, in one line:
    /// the container builds `I` with [`FromProvider::from_provider`], hands it out as `Arc<S>`
    /// through [`Provides`], and validates the dependencies `I` declares.
    ///
    /// `I` is usually `#[derive(Injectable)]` with `#[injectable(provides(dyn S))]`; `S` may
    /// also be `I` itself. The registration records `I` as its implementation, as
    /// [`try_add_enumerable`](Self::try_add_enumerable) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{FromProvider, Lifetime, Provides, Resolver, ServiceCollection};
    /// trait Greeter: Send + Sync { fn hello(&self) -> String; }
    /// struct English;
    /// impl Greeter for English { fn hello(&self) -> String { "hello".into() } }
    /// impl FromProvider for English {
    ///     fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(English) }
    /// }
    /// impl Provides<dyn Greeter> for English {
    ///     fn provide(self: Arc<Self>) -> Arc<dyn Greeter> { self }
    /// }
    /// let provider = ServiceCollection::new().add_as::<dyn Greeter, English>(Lifetime::Transient).build()?;
    /// assert_eq!(provider.get::<dyn Greeter>()?.hello(), "hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_as<S, I>(&mut self, lifetime: Lifetime) -> Registration<'_, S>
    where
        S: ?Sized + Send + Sync + 'static,
        I: FromProvider + Provides<S>,
    {
        self.push(injected::<S, I>(lifetime, None))
    }

    /// [`add_as`](Self::add_as) as a singleton.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::{FromProvider, Provides, Resolver, ServiceCollection};
    /// # trait Clock: Send + Sync {}
    /// # struct Fixed;
    /// # impl Clock for Fixed {}
    /// # impl FromProvider for Fixed { fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(Fixed) } }
    /// # impl Provides<dyn Clock> for Fixed { fn provide(self: Arc<Self>) -> Arc<dyn Clock> { self } }
    /// let provider = ServiceCollection::new().add_singleton_as::<dyn Clock, Fixed>().build()?;
    /// assert!(Arc::ptr_eq(&provider.get::<dyn Clock>()?, &provider.get::<dyn Clock>()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_singleton_as<S, I>(&mut self) -> Registration<'_, S>
    where
        S: ?Sized + Send + Sync + 'static,
        I: FromProvider + Provides<S>,
    {
        self.add_as::<S, I>(Lifetime::Singleton)
    }

    /// [`add_as`](Self::add_as) as a scoped service.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::{FromProvider, Provides, Resolver, ServiceCollection};
    /// # trait EmployeeDb: Send + Sync {}
    /// # struct Sqlite;
    /// # impl EmployeeDb for Sqlite {}
    /// # impl FromProvider for Sqlite { fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(Sqlite) } }
    /// # impl Provides<dyn EmployeeDb> for Sqlite { fn provide(self: Arc<Self>) -> Arc<dyn EmployeeDb> { self } }
    /// let provider = ServiceCollection::new().add_scoped_as::<dyn EmployeeDb, Sqlite>().build()?;
    /// let scope = provider.create_scope()?;
    /// assert!(Arc::ptr_eq(&scope.get::<dyn EmployeeDb>()?, &scope.get::<dyn EmployeeDb>()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_scoped_as<S, I>(&mut self) -> Registration<'_, S>
    where
        S: ?Sized + Send + Sync + 'static,
        I: FromProvider + Provides<S>,
    {
        self.add_as::<S, I>(Lifetime::Scoped)
    }

    /// [`add_as`](Self::add_as) as a transient service.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::{FromProvider, Provides, Resolver, ServiceCollection};
    /// # trait Job: Send + Sync {}
    /// # struct Cleanup;
    /// # impl Job for Cleanup {}
    /// # impl FromProvider for Cleanup { fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(Cleanup) } }
    /// # impl Provides<dyn Job> for Cleanup { fn provide(self: Arc<Self>) -> Arc<dyn Job> { self } }
    /// let provider = ServiceCollection::new().add_transient_as::<dyn Job, Cleanup>().build()?;
    /// assert!(!Arc::ptr_eq(&provider.get::<dyn Job>()?, &provider.get::<dyn Job>()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_transient_as<S, I>(&mut self) -> Registration<'_, S>
    where
        S: ?Sized + Send + Sync + 'static,
        I: FromProvider + Provides<S>,
    {
        self.add_as::<S, I>(Lifetime::Transient)
    }

    /// [`add_as`](Self::add_as) under a key, resolved with [`ServiceProvider::get_keyed`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::{FromProvider, Lifetime, Provides, Resolver, ServiceCollection};
    /// # trait Store: Send + Sync {}
    /// # struct Disk;
    /// # impl Store for Disk {}
    /// # impl FromProvider for Disk { fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(Disk) } }
    /// # impl Provides<dyn Store> for Disk { fn provide(self: Arc<Self>) -> Arc<dyn Store> { self } }
    /// let provider = ServiceCollection::new()
    ///     .add_keyed_as::<dyn Store, Disk, _>(Lifetime::Singleton, "cold")
    ///     .build()?;
    /// assert!(provider.get_keyed::<dyn Store, _>(&"cold").is_ok());
    /// assert!(provider.get::<dyn Store>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_keyed_as<S, I, K>(&mut self, lifetime: Lifetime, key: K) -> Registration<'_, S>
    where
        S: ?Sized + Send + Sync + 'static,
        I: FromProvider + Provides<S>,
        K: Eq + Hash + Send + Sync + 'static,
    {
        self.push(injected::<S, I>(lifetime, Some(ServiceKey::new(key))))
    }

    /// Registers a service of any lifetime with an async factory, resolved with
    /// [`ServiceProvider::get_async`]. A synchronous `get` of it (or of anything that depends on
    /// it) returns [`ResolveError::AsyncFactory`](crate::ResolveError::AsyncFactory).
    ///
    /// The factory receives an owned [`Resolver`] (`Resolver<'static>`, which does not keep the
    /// container alive); resolve dependencies through it so cycles and deadlocks are detected.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// struct Pool(u32);
    /// let provider = ServiceCollection::new()
    ///     .add_async::<Pool, _>(Lifetime::Singleton, |_sp| async { Ok(Arc::new(Pool(5))) })
    ///     .build()?;
    /// # futures_util_block_on(async {
    /// assert_eq!(provider.get_async::<Pool>().await?.0, 5);
    /// # Ok::<(), di_core::ResolveError>(())
    /// # })?;
    /// # fn futures_util_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_async<T, Fut>(
        &mut self,
        lifetime: Lifetime,
        factory: impl Fn(Resolver<'static>) -> Fut + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Arc<T>>> + Send + 'static,
    {
        self.push(descriptor::<T>(lifetime, None, async_factory::<T, Fut>(factory), None))
    }

    /// Registers an instance you created: the container hands out that exact `Arc` and never
    /// disposes it (disposal hooks attached to it do not run). Pass a value, or an `Arc` you keep
    /// a handle to; with an `Arc`, name the service type (`::<String>`): `Arc<String>` is itself a
    /// type that could be registered.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// let shared = Arc::new(String::from("hello"));
    /// let provider = ServiceCollection::new().add_singleton_instance::<String>(shared.clone()).build()?;
    /// assert!(Arc::ptr_eq(&provider.get::<String>()?, &shared));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_singleton_instance<T>(&mut self, instance: impl IntoArc<T>) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        let arc: Arc<T> = instance.into_arc();
        self.push(descriptor::<T>(Lifetime::Singleton, None, Factory::Instance(Instance::new(arc)), None))
    }

    /// Registers a keyed service of any lifetime with a factory. Keyed and unkeyed registrations
    /// never mix: [`ServiceProvider::get`] does not see this one, [`ServiceProvider::get_keyed`] does.
    ///
    /// The key is any `Eq + Hash + Send + Sync + 'static` value: a string, an enum, a number.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// #[derive(Clone, PartialEq, Eq, Hash)]
    /// enum Region { Eu, Us }
    /// let provider = ServiceCollection::new()
    ///     .add_keyed::<String, _>(Lifetime::Singleton, Region::Eu, |_| Ok(Arc::new("eu-west".to_owned())))
    ///     .add_keyed::<String, _>(Lifetime::Singleton, Region::Us, |_| Ok(Arc::new("us-east".to_owned())))
    ///     .build()?;
    /// assert_eq!(*provider.get_keyed::<String, _>(&Region::Us)?, "us-east");
    /// assert!(provider.get::<String>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_keyed<T, K>(
        &mut self,
        lifetime: Lifetime,
        key: K,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        let mut d = descriptor::<T>(lifetime, None, sync_factory::<T>(factory), None);
        d.key = Some(ServiceKey::new(key));
        self.push(d)
    }

    /// Registers a keyed singleton. See [`add_keyed`](Self::add_keyed).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_keyed_singleton::<String, _>("primary", |_| Ok(Arc::new("db-1".to_owned())))
    ///     .build()?;
    /// assert_eq!(*provider.get_keyed::<String, _>(&"primary")?, "db-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_keyed_singleton<T, K>(
        &mut self,
        key: K,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        self.add_keyed(Lifetime::Singleton, key, factory)
    }

    /// Registers a keyed scoped service. See [`add_keyed`](Self::add_keyed).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_keyed_scoped::<u64, _>("request", |_| Ok(Arc::new(1u64)))
    ///     .build()?;
    /// let scope = provider.create_scope()?;
    /// assert_eq!(*scope.get_keyed::<u64, _>(&"request")?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_keyed_scoped<T, K>(
        &mut self,
        key: K,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        self.add_keyed(Lifetime::Scoped, key, factory)
    }

    /// Registers a keyed transient service. See [`add_keyed`](Self::add_keyed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_keyed_transient::<Vec<u8>, _>(1u32, |_| Ok(Arc::new(vec![1u8])))
    ///     .build()?;
    /// let (a, b) = (provider.get_keyed::<Vec<u8>, _>(&1u32)?, provider.get_keyed::<Vec<u8>, _>(&1u32)?);
    /// assert!(!Arc::ptr_eq(&a, &b));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_keyed_transient<T, K>(
        &mut self,
        key: K,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        self.add_keyed(Lifetime::Transient, key, factory)
    }

    /// Registers a keyed instance you created; never disposed by the container.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_keyed_singleton_instance("greeting", String::from("hi"))
    ///     .build()?;
    /// assert_eq!(*provider.get_keyed::<String, _>(&"greeting")?, "hi");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_keyed_singleton_instance<T, K>(&mut self, key: K, instance: impl IntoArc<T>) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        let arc: Arc<T> = instance.into_arc();
        let mut d = descriptor::<T>(Lifetime::Singleton, None, Factory::Instance(Instance::new(arc)), None);
        d.key = Some(ServiceKey::new(key));
        self.push(d)
    }

    /// Registers the [`AnyKey`](crate::AnyKey) fallback of `T` with a factory that receives the
    /// requested key: a keyed lookup of `T` with a key that has no registration of its own is
    /// served by this registration, created for that key (a singleton once per key, a scoped
    /// service once per scope and key). The factory downcasts the key (`key.downcast_ref::<K>()`)
    /// and may return an error for a key of a type it does not serve.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    ///
    /// struct Queue(String);
    /// let provider = ServiceCollection::new()
    ///     .add_keyed_any::<Queue>(Lifetime::Singleton, |_, key| match key.downcast_ref::<&str>() {
    ///         Some(name) => Ok(Arc::new(Queue(format!("queue-{name}")))),
    ///         None => anyhow::bail!("queues are keyed by `&str`"),
    ///     })
    ///     .build()?;
    /// let orders = provider.get_keyed::<Queue, _>(&"orders")?;
    /// assert_eq!(orders.0, "queue-orders");
    /// assert!(Arc::ptr_eq(&orders, &provider.get_keyed::<Queue, _>(&"orders")?)); // once per key
    /// assert!(provider.get_keyed::<Queue, _>(&7u32).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_keyed_any<T>(
        &mut self,
        lifetime: Lifetime,
        factory: impl Fn(&Resolver<'_>, &dyn Any) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add_keyed(lifetime, AnyKey, move |sp| factory(sp, sp.key().unwrap_or(&AnyKey)))
    }

    /// Registers a keyed service with an async factory. See [`add_async`](Self::add_async).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// let mut services = ServiceCollection::new();
    /// services.add_keyed_async::<u8, _, _>(Lifetime::Scoped, "k", |_| async { Ok(Arc::new(1u8)) });
    /// assert_eq!(services.len(), 1);
    /// ```
    pub fn add_keyed_async<T, K, Fut>(
        &mut self,
        lifetime: Lifetime,
        key: K,
        factory: impl Fn(Resolver<'static>) -> Fut + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Arc<T>>> + Send + 'static,
    {
        let mut d = descriptor::<T>(lifetime, None, async_factory::<T, Fut>(factory), None);
        d.key = Some(ServiceKey::new(key));
        self.push(d)
    }

    /// Adds the registration only if `T` has no unkeyed registration yet; returns `None` (and
    /// drops the factory) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton_instance(1u32);
    /// assert!(services.try_add::<u32>(Lifetime::Singleton, |_| Ok(Arc::new(2u32))).is_none());
    /// assert_eq!(*services.build()?.get::<u32>()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_add<T>(
        &mut self,
        lifetime: Lifetime,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Option<Registration<'_, T>>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        if self.contains::<T>() { None } else { Some(self.add(lifetime, factory)) }
    }

    /// [`try_add`](Self::try_add) for a singleton.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// assert!(services.try_add_singleton::<u8>(|_| Ok(Arc::new(1u8))).is_some());
    /// assert!(services.try_add_singleton::<u8>(|_| Ok(Arc::new(2u8))).is_none());
    /// ```
    pub fn try_add_singleton<T>(
        &mut self,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Option<Registration<'_, T>>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.try_add(Lifetime::Singleton, factory)
    }

    /// [`try_add`](Self::try_add) for a scoped service.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// assert!(services.try_add_scoped::<u8>(|_| Ok(Arc::new(1u8))).is_some());
    /// assert!(services.try_add_scoped::<u8>(|_| Ok(Arc::new(2u8))).is_none());
    /// ```
    pub fn try_add_scoped<T>(
        &mut self,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Option<Registration<'_, T>>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.try_add(Lifetime::Scoped, factory)
    }

    /// [`try_add`](Self::try_add) for a transient service.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// assert!(services.try_add_transient::<u8>(|_| Ok(Arc::new(1u8))).is_some());
    /// assert!(services.try_add_transient::<u8>(|_| Ok(Arc::new(2u8))).is_none());
    /// ```
    pub fn try_add_transient<T>(
        &mut self,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Option<Registration<'_, T>>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.try_add(Lifetime::Transient, factory)
    }

    /// Adds an implementation `I` of service `T` unless `I` is already registered for `T`
    /// (unkeyed). Use it to add one more implementation to a set resolved with `get_all`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// trait Check: Send + Sync {}
    /// struct Disk;
    /// impl Check for Disk {}
    /// let mut services = ServiceCollection::new();
    /// let disk = |_: &di_core::Resolver<'_>| -> anyhow::Result<Arc<dyn Check>> { Ok(Arc::new(Disk)) };
    /// assert!(services.try_add_enumerable::<dyn Check, Disk>(Lifetime::Singleton, disk).is_some());
    /// assert!(services.try_add_enumerable::<dyn Check, Disk>(Lifetime::Singleton, disk).is_none());
    /// assert_eq!(services.build()?.get_all::<dyn Check>()?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_add_enumerable<T, I>(
        &mut self,
        lifetime: Lifetime,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Option<Registration<'_, T>>
    where
        T: ?Sized + Send + Sync + 'static,
        I: Any,
    {
        let exists = self
            .descriptors
            .iter()
            .any(|d| d.service == TypeId::of::<T>() && d.key.is_none() && d.implementation == Some(TypeId::of::<I>()));
        if exists {
            return None;
        }
        let mut d = descriptor::<T>(lifetime, None, sync_factory::<T>(factory), None);
        d.implementation = Some(TypeId::of::<I>());
        Some(self.push(d))
    }

    /// Removes the first unkeyed registration of `T` (if any) and appends this one at the end.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton_instance(1u32).add_singleton_instance(2u32);
    /// services.replace::<u32>(Lifetime::Singleton, |_| Ok(Arc::new(3u32)));
    /// let all: Vec<u32> = services.build()?.get_all::<u32>()?.iter().map(|v| **v).collect();
    /// assert_eq!(all, [2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replace<T>(
        &mut self,
        lifetime: Lifetime,
        factory: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        if let Some(i) = self.position::<T>() {
            self.descriptors.remove(i);
        }
        self.add(lifetime, factory)
    }

    /// Removes every unkeyed registration of `T`; returns how many were removed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut services = di_core::ServiceCollection::new();
    /// services.add_singleton_instance(1u32).add_singleton_instance(2u32);
    /// assert_eq!(services.remove_all::<u32>(), 2);
    /// assert!(services.is_empty());
    /// ```
    pub fn remove_all<T: ?Sized + 'static>(&mut self) -> usize {
        let before = self.descriptors.len();
        self.descriptors.retain(|d| !(d.service == TypeId::of::<T>() && d.key.is_none()));
        before - self.descriptors.len()
    }

    /// Builds a provider with the default [`ProviderOptions`] (both validations on).
    ///
    /// # Errors
    ///
    /// [`BuildError::Invalid`] listing every problem validation found: missing declared
    /// dependencies, cycles, singletons capturing scoped services.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().add_singleton_instance(5u8).build()?;
    /// assert_eq!(*provider.get::<u8>()?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(&self) -> Result<Arc<ServiceProvider>, BuildError> {
        self.build_with(ProviderOptions::default())
    }

    /// Builds a provider with explicit options.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), when `validate_on_build` is on.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{ProviderOptions, ServiceCollection};
    /// struct RequestId;
    /// let provider = ServiceCollection::new()
    ///     .add_scoped::<RequestId>(|_| Ok(Arc::new(RequestId)))
    ///     .build_with(ProviderOptions::default().validate_scopes(false))?;
    /// assert!(provider.get::<RequestId>().is_ok()); // the root acts as a scope
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_with(&self, options: ProviderOptions) -> Result<Arc<ServiceProvider>, BuildError> {
        ServiceProvider::build(self.descriptors.clone(), options).map(Arc::new)
    }

    pub(crate) fn descriptor_mut(&mut self, index: usize) -> &mut Descriptor {
        &mut self.descriptors[index]
    }
}

fn descriptor<T: ?Sized + 'static>(
    lifetime: Lifetime,
    key: Option<ServiceKey>,
    factory: Factory,
    implementation: Option<TypeId>,
) -> Descriptor {
    Descriptor {
        service: TypeId::of::<T>(),
        name: type_name::<T>(),
        implementation,
        key,
        lifetime,
        factory,
        sync_hook: None,
        async_hook: None,
        dependencies: Vec::new(),
    }
}

/// A registration of `I` as `S`, built by constructor injection, with `I`'s declared dependencies.
fn injected<S, I>(lifetime: Lifetime, key: Option<ServiceKey>) -> Descriptor
where
    S: ?Sized + Send + Sync + 'static,
    I: FromProvider + Provides<S>,
{
    let factory = sync_factory::<S>(|sp| Ok(Arc::new(I::from_provider(sp)?).provide()));
    let mut d = descriptor::<S>(lifetime, key, factory, Some(TypeId::of::<I>()));
    let mut deps = Dependencies::default();
    I::dependencies(&mut deps);
    d.dependencies = deps.list;
    d
}

fn sync_factory<T>(f: impl Fn(&Resolver<'_>) -> anyhow::Result<Arc<T>> + Send + Sync + 'static) -> Factory
where
    T: ?Sized + Send + Sync + 'static,
{
    Factory::Sync(SyncFactory::new(f))
}

fn async_factory<T, Fut>(f: impl Fn(Resolver<'static>) -> Fut + Send + Sync + 'static) -> Factory
where
    T: ?Sized + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<Arc<T>>> + Send + 'static,
{
    Factory::Async(Arc::new(move |sp| {
        let fut = f(sp);
        Box::pin(async move { Ok(Instance::new(fut.await?)) })
    }))
}

/// The `Arc<T>` a hook maker is handed as `&dyn Any`.
fn typed<T: ?Sized + 'static>(instance: &dyn Any) -> Arc<T> {
    instance.downcast_ref::<Arc<T>>().expect("di-core hands hooks the instance of their own registration").clone()
}

/// The registration just added: attach disposal hooks or declare dependencies, or keep
/// registering (it derefs to the [`ServiceCollection`]).
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// use di_core::ServiceCollection;
/// struct Db;
/// struct Repo;
/// let mut services = ServiceCollection::new();
/// services
///     .add_singleton::<Db>(|_| Ok(Arc::new(Db)))
///     .on_dispose(|_db| Ok(()))
///     .add_scoped::<Repo>(|sp| { sp.get::<Db>()?; Ok(Arc::new(Repo)) })
///     .depends_on::<Db>();
/// assert_eq!(services.len(), 2);
/// ```
pub struct Registration<'a, T: ?Sized> {
    services: &'a mut ServiceCollection,
    index: usize,
    _service: std::marker::PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized> std::fmt::Debug for Registration<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Registration").field(&self.services.descriptors[self.index]).finish()
    }
}

impl<T: ?Sized> Deref for Registration<'_, T> {
    type Target = ServiceCollection;
    fn deref(&self) -> &ServiceCollection {
        self.services
    }
}

impl<T: ?Sized> DerefMut for Registration<'_, T> {
    fn deref_mut(&mut self) -> &mut ServiceCollection {
        self.services
    }
}

// ===== impl Registration =====

impl<T: ?Sized + Send + Sync + 'static> Registration<'_, T> {
    fn descriptor(&mut self) -> &mut Descriptor {
        self.services.descriptor_mut(self.index)
    }

    /// Runs `hook` when the scope that created the instance ends (the root, for singletons),
    /// in reverse creation order, exactly once. Never runs for user-supplied instances, nor for
    /// transients resolved from the root (see the crate docs on transients).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use di_core::ServiceCollection;
    /// struct Conn;
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let seen = log.clone();
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<Conn>(|_| Ok(Arc::new(Conn))).on_dispose(move |_| {
    ///     seen.lock().unwrap().push("closed");
    ///     Ok(())
    /// });
    /// let provider = services.build()?;
    /// let scope = provider.create_scope()?;
    /// scope.get::<Conn>()?;
    /// drop(scope);
    /// assert_eq!(*log.lock().unwrap(), ["closed"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_dispose(&mut self, hook: impl Fn(&T) -> anyhow::Result<()> + Send + Sync + 'static) -> &mut Self {
        let hook = Arc::new(hook);
        self.descriptor().sync_hook = Some(Arc::new(move |instance: &dyn Any| {
            let service = typed::<T>(instance);
            let hook = hook.clone();
            Box::new(move || hook(&service))
        }));
        self
    }

    /// Awaits `hook` when the scope that created the instance is disposed with `dispose().await`.
    /// When a sync hook is also attached, the async path prefers this one and the sync path
    /// (`dispose_sync`, dropping a scope) runs the sync one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Channel;
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<Channel>(|_| Ok(Arc::new(Channel))).on_dispose_async(|_channel| async { Ok(()) });
    /// # assert_eq!(services.len(), 1);
    /// ```
    pub fn on_dispose_async<Fut>(&mut self, hook: impl Fn(Arc<T>) -> Fut + Send + Sync + 'static) -> &mut Self
    where
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let hook = Arc::new(hook);
        self.descriptor().async_hook = Some(Arc::new(move |instance: &dyn Any| {
            let service = typed::<T>(instance);
            let hook = hook.clone();
            Box::new(move || Box::pin(hook(service)))
        }));
        self
    }

    /// Uses the service's [`Dispose`] implementation as its sync hook.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Dispose, ServiceCollection};
    /// struct Pool;
    /// impl Dispose for Pool { fn dispose(&self) -> anyhow::Result<()> { Ok(()) } }
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Pool>(|_| Ok(Arc::new(Pool))).disposable();
    /// # assert_eq!(services.len(), 1);
    /// ```
    pub fn disposable(&mut self) -> &mut Self
    where
        T: Dispose,
    {
        self.on_dispose(T::dispose)
    }

    /// Uses the service's [`AsyncDispose`] implementation as its async hook.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{AsyncDispose, ServiceCollection};
    /// struct Pool;
    /// impl AsyncDispose for Pool { async fn dispose_async(&self) -> anyhow::Result<()> { Ok(()) } }
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Pool>(|_| Ok(Arc::new(Pool))).async_disposable();
    /// # assert_eq!(services.len(), 1);
    /// ```
    pub fn async_disposable(&mut self) -> &mut Self
    where
        T: AsyncDispose + Sized,
    {
        self.on_dispose_async(|service: Arc<T>| async move { service.dispose_async().await })
    }

    fn declare<D: ?Sized + 'static>(&mut self, key: Option<ServiceKey>, kind: DependencyKind) -> &mut Self {
        self.descriptor().dependencies.push(Dependency {
            service: TypeId::of::<D>(),
            name: type_name::<D>(),
            key,
            kind,
        });
        self
    }

    /// Declares every dependency `I` declares in [`FromProvider::dependencies`]: use it when a
    /// factory builds the service through `I::from_provider`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{Dependencies, FromProvider, Resolver, ServiceCollection};
    /// trait Store: Send + Sync {}
    /// struct Db;
    /// struct SqlStore;
    /// impl Store for SqlStore {}
    /// impl FromProvider for SqlStore {
    ///     fn from_provider(sp: &Resolver<'_>) -> anyhow::Result<Self> { sp.get::<Db>()?; Ok(SqlStore) }
    ///     fn dependencies(deps: &mut Dependencies) { deps.one::<Db>(); }
    /// }
    /// let mut services = ServiceCollection::new();
    /// services
    ///     .add_scoped::<dyn Store>(|sp| Ok(Arc::new(SqlStore::from_provider(sp)?)))
    ///     .depends_on_all_of::<SqlStore>();
    /// assert!(services.build().is_err()); // `Db` is missing
    /// ```
    pub fn depends_on_all_of<I: FromProvider>(&mut self) -> &mut Self {
        let mut deps = Dependencies::default();
        I::dependencies(&mut deps);
        self.descriptor().dependencies.extend(deps.list);
        self
    }

    /// Declares that the factory resolves `D`, so [`build`](ServiceCollection::build) checks it
    /// exists, is not part of a cycle, and is not a scoped service captured by a singleton.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Db;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Repo>(|sp| { sp.get::<Db>()?; Ok(Arc::new(Repo)) }).depends_on::<Db>();
    /// assert!(services.build().is_err()); // `Db` is missing: caught before any resolve
    /// ```
    pub fn depends_on<D: ?Sized + 'static>(&mut self) -> &mut Self {
        self.declare::<D>(None, DependencyKind::One)
    }

    /// Declares an optional dependency (`get_optional`): checked for cycles and captives, not existence.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Metrics;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Repo>(|sp| { sp.get_optional::<Metrics>()?; Ok(Arc::new(Repo)) })
    ///     .depends_on_optional::<Metrics>();
    /// assert!(services.build().is_ok());
    /// ```
    pub fn depends_on_optional<D: ?Sized + 'static>(&mut self) -> &mut Self {
        self.declare::<D>(None, DependencyKind::Optional)
    }

    /// Declares a dependency on every registration of `D` (`get_all`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Check;
    /// struct Health;
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Health>(|sp| { sp.get_all::<Check>()?; Ok(Arc::new(Health)) })
    ///     .depends_on_all::<Check>();
    /// assert!(services.build().is_ok());
    /// ```
    pub fn depends_on_all<D: ?Sized + 'static>(&mut self) -> &mut Self {
        self.declare::<D>(None, DependencyKind::All)
    }

    /// Declares a dependency on the registration of `D` under `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Cache;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Repo>(|sp| { sp.get_keyed::<Cache, _>(&"redis")?; Ok(Arc::new(Repo)) })
    ///     .depends_on_keyed::<Cache, _>("redis");
    /// assert!(services.build().is_err()); // no `Cache` under "redis"
    /// ```
    pub fn depends_on_keyed<D: ?Sized + 'static, K: Eq + Hash + Send + Sync + 'static>(&mut self, key: K) -> &mut Self {
        self.declare::<D>(Some(ServiceKey::new(key)), DependencyKind::One)
    }
}
