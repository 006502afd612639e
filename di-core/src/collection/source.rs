//! [`Source`]: how a registration produces its instances, as a value.

use std::any::{TypeId, type_name};
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::descriptor::{Dependency, Factory, SyncFactory, erase};
use crate::error::{BoxError, into_box_error};
use crate::inject::{Dependencies, FromProvider, Provides};
use crate::resolve::Resolver;

/// Converts a value into the `Arc<T>` the container stores: any `T` (wrapped in a new `Arc`),
/// or an `Arc<T>` itself, which is how an instance of a trait object is passed.
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
    message = "an instance of `{T}` must be a `{T}` or an `Arc<{T}>`, not `{Self}`",
    note = "for a trait object, pass `Arc::new(value) as Arc<{T}>`"
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

/// How a registration of `T` produces its instances: a closure, an async closure, constructor
/// injection, an implementation mapped to a trait object, or an instance made beforehand.
///
/// Pass one to [`ServiceCollection::add`](crate::ServiceCollection::add) (or `try_add`,
/// `try_add_enumerable`, `replace`, with or without a [key](crate::ServiceCollection::keyed));
/// `add_singleton`, `add_scoped` and `add_transient` are the shorthand for a closure.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{Lifetime, ServiceCollection, Source};
///
/// trait Clock: Send + Sync { fn now(&self) -> u64; }
/// struct Fixed(u64);
/// impl Clock for Fixed { fn now(&self) -> u64 { self.0 } }
///
/// let mut services = ServiceCollection::new();
/// services.add(Lifetime::Singleton, Source::<dyn Clock>::instance(Arc::new(Fixed(7)) as Arc<dyn Clock>));
/// services.add(Lifetime::Transient, Source::from_fn(|_| Ok::<_, std::io::Error>(Arc::new(String::from("made")))));
/// let provider = services.build()?;
/// assert_eq!(provider.get::<dyn Clock>()?.now(), 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Source<T: ?Sized> {
    pub(crate) factory: Factory,
    /// What `try_add_enumerable` compares: the implementation type, or the closure's own type.
    pub(crate) implementation: TypeId,
    /// The implementation type's name, for `implemented_by` and `injected`.
    pub(crate) implementation_name: Option<&'static str>,
    pub(crate) dependencies: Vec<Dependency>,
    _service: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized> std::fmt::Debug for Source<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("service", &type_name::<T>()).field("kind", &self.factory.kind()).finish()
    }
}

impl<T: ?Sized + Send + Sync + 'static> Source<T> {
    fn new(factory: Factory, implementation: TypeId, dependencies: Vec<Dependency>) -> Self {
        Self { factory, implementation, implementation_name: None, dependencies, _service: PhantomData }
    }

    /// A closure or function that creates the service, given a [`Resolver`] for the scope it is
    /// created in (the root, for a singleton). It may fail with any error convertible into
    /// [`BoxError`] (any `std::error::Error + Send + Sync`, `anyhow::Error`, a string): the caller
    /// gets it whole as the `source` of [`ResolveError::Factory`](crate::ResolveError::Factory)
    /// and can downcast it to its own type, to retry on "connection refused" for example. With
    /// the default `anyhow` feature an `anyhow::Error` is unwrapped to the error it holds, so a
    /// function returning `anyhow::Result` keeps its cause's type too.
    ///
    /// A closure whose only error comes from `?` needs its error type spelled once, as in
    /// `Ok::<_, BoxError>(..)`; [`add_singleton`](crate::ServiceCollection::add_singleton) and
    /// its siblings take a closure returning `Result<_, BoxError>` and need no annotation.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{Lifetime, Resolver, ServiceCollection, Source};
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("connection refused by {0}")]
    /// struct Refused(&'static str);
    ///
    /// struct Db;
    /// fn connect(_: &Resolver<'_>) -> anyhow::Result<Arc<Db>> {
    ///     Err(anyhow::Error::new(Refused("db:5432")).context("connecting to the database"))
    /// }
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::from_fn(connect));
    /// services.add(Lifetime::Transient, Source::from_fn(|_| Ok::<_, std::io::Error>(Arc::new(7u32))));
    /// let provider = services.build()?;
    /// assert_eq!(*provider.get::<u32>()?, 7);
    ///
    /// let Err(err) = provider.get::<Db>() else { panic!("`connect` fails") };
    /// let refused = std::iter::successors(std::error::Error::source(&err), |e| e.source())
    ///     .find_map(|e| e.downcast_ref::<Refused>());
    /// assert_eq!(refused.map(|r| r.0), Some("db:5432"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fn<F, E>(factory: F) -> Self
    where
        F: Fn(&Resolver<'_>) -> Result<Arc<T>, E> + Send + Sync + 'static,
        E: Into<BoxError> + 'static,
    {
        let boxed = move |r: &Resolver<'_>| factory(r).map_err(into_box_error);
        Self::new(Factory::Sync(SyncFactory::new(boxed)), TypeId::of::<F>(), Vec::new())
    }

    /// An async closure that creates the service; resolve it with
    /// [`get_async`](crate::ServiceProvider::get_async) (a sync `get` that meets it returns
    /// [`ResolveError::AsyncFactory`](crate::ResolveError::AsyncFactory)). It receives an owned
    /// [`Resolver`] it may hold across `.await`s. Its error, of any type, reaches the caller as
    /// [`from_fn`](Self::from_fn)'s does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{BoxError, Lifetime, Resolver, ServiceCollection, Source};
    /// struct Conn;
    /// async fn open(_: Resolver<'static>) -> std::io::Result<Arc<Conn>> {
    ///     Ok(Arc::new(Conn))
    /// }
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::from_async_fn(open));
    /// // A closure names its error type once:
    /// services.add(Lifetime::Transient, Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(7u8)) }));
    /// # let provider = services.build()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// # rt.block_on(provider.get_async::<Conn>())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_async_fn<F, Fut, E>(factory: F) -> Self
    where
        F: Fn(Resolver<'static>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<T>, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let erased = Arc::new(move |r| {
            let creating = factory(r);
            Box::pin(async move { creating.await.map(erase).map_err(into_box_error) }) as crate::dispose::BoxFuture<_>
        });
        Self::new(Factory::Async(erased), TypeId::of::<F>(), Vec::new())
    }

    /// An instance made beforehand: handed out as is and never disposed by the container (it
    /// did not create it). Only a singleton can be an instance; `build()` rejects another
    /// lifetime.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// struct Config { retries: u32 }
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(Config { retries: 3 }));
    /// assert_eq!(services.build()?.get::<Config>()?.retries, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn instance<V: IntoArc<T> + 'static>(value: V) -> Self {
        Self::new(Factory::Instance(erase(value.into_arc())), TypeId::of::<V>(), Vec::new())
    }

    /// An implementation `I`, built by constructor injection ([`FromProvider`]) and handed out
    /// as `T`, typically a trait object (`I: Provides<T>`). `I`'s declared dependencies are
    /// checked by `build()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{BoxError, FromProvider, Lifetime, Provides, Resolver, ServiceCollection, Source};
    ///
    /// trait Clock: Send + Sync { fn now(&self) -> u64; }
    /// struct Fixed;
    /// impl Clock for Fixed { fn now(&self) -> u64 { 7 } }
    /// impl FromProvider for Fixed {
    ///     fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> { Ok(Fixed) }
    /// }
    /// impl Provides<dyn Clock> for Fixed {
    ///     fn provide(self: Arc<Self>) -> Arc<dyn Clock> { self }
    /// }
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::<dyn Clock>::implemented_by::<Fixed>());
    /// assert_eq!(services.build()?.get::<dyn Clock>()?.now(), 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn implemented_by<I: FromProvider + Provides<T>>() -> Self {
        Self::implemented_by_with::<I>(I::provide)
    }

    /// [`implemented_by`](Self::implemented_by) with the conversion spelled out: `upcast` turns
    /// the `Arc<I>` into an `Arc<T>`, usually `|i| i` (the compiler coerces it to the trait
    /// object). What generic code uses, where `I: Provides<T>` cannot be required.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{BoxError, FromProvider, Lifetime, Resolver, ServiceCollection, Source};
    ///
    /// trait Job: Send + Sync { fn name(&self) -> &'static str; }
    ///
    /// fn add_job<J: Job + FromProvider>(services: &mut ServiceCollection) {
    ///     services.try_add_enumerable(Lifetime::Singleton, Source::<dyn Job>::implemented_by_with::<J>(|j| j));
    /// }
    ///
    /// struct Cleanup;
    /// impl Job for Cleanup { fn name(&self) -> &'static str { "cleanup" } }
    /// impl FromProvider for Cleanup {
    ///     fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> { Ok(Cleanup) }
    /// }
    ///
    /// let mut services = ServiceCollection::new();
    /// add_job::<Cleanup>(&mut services);
    /// add_job::<Cleanup>(&mut services); // the same implementation: added once
    /// assert_eq!(services.build()?.resolve::<Vec<Arc<dyn Job>>>()?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn implemented_by_with<I: FromProvider>(upcast: fn(Arc<I>) -> Arc<T>) -> Self {
        let factory = SyncFactory::new(move |r: &Resolver<'_>| Ok(upcast(Arc::new(I::from_provider(r)?))));
        let mut deps = Dependencies::default();
        I::dependencies(&mut deps);
        let mut source = Self::new(Factory::Sync(factory), TypeId::of::<I>(), deps.list);
        source.implementation_name = Some(type_name::<I>());
        source
    }

    /// `T` itself, built by constructor injection ([`FromProvider`], or
    /// `#[derive(Injectable)]`); its declared dependencies are checked by `build()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{BoxError, Dependencies, FromProvider, Lifetime, Resolver, ServiceCollection, Source};
    /// struct Db;
    /// struct Repo { db: Arc<Db> }
    /// impl FromProvider for Repo {
    ///     fn from_provider(r: &Resolver<'_>) -> Result<Self, BoxError> { Ok(Repo { db: r.get()? }) }
    ///     fn dependencies(deps: &mut Dependencies) { deps.add::<Arc<Db>>(); }
    /// }
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Scoped, Source::<Repo>::injected());
    /// assert!(services.build().is_err()); // `Db` is missing: caught before anything runs
    /// ```
    pub fn injected() -> Self
    where
        T: FromProvider,
    {
        Self::implemented_by_with::<T>(|t| t)
    }
}
