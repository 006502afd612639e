//! [`Resolver`]: what a factory resolves its dependencies through.

use std::any::{Any, type_name};
use std::hash::Hash;
use std::sync::{Arc, Weak};

use super::chain::{Chain, Link};
use super::source::Source;
use crate::error::ResolveError;
use crate::provider::{Held, ServiceProvider};
use crate::registry::Core;
use crate::scope::ScopeState;

/// What a factory resolves its dependencies through: the scope its service is created in (the
/// root, for a singleton) and the chain of creations it is nested in.
///
/// The chain is how the container catches a cycle before it recurses, a singleton capturing a
/// scoped service, and a wait that would deadlock; so resolve a factory's dependencies through
/// its `Resolver`, not through a [`ServiceProvider`] kept elsewhere. A sync factory borrows its
/// resolver for the duration of the call; an async factory owns one (`Resolver<'static>`) that
/// does not keep the container alive (kept past the creation, it resolves as a plain handle
/// would: the creation it belonged to is over). Cloning it keeps the chain.
///
/// The lookups are [`ServiceProvider`]'s: [`get`](Self::get), [`get_optional`](Self::get_optional),
/// [`get_all`](Self::get_all), their keyed and async forms. To keep a handle for later (to create
/// a scope per unit of work, say), resolve `Arc<ServiceProvider>`: a resolver is for the creation.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{Resolver, ServiceCollection};
///
/// struct Config { url: String }
/// struct Client { config: Arc<Config> }
///
/// fn client(sp: &Resolver<'_>) -> anyhow::Result<Arc<Client>> {
///     Ok(Arc::new(Client { config: sp.get()? }))
/// }
///
/// let provider = ServiceCollection::new()
///     .add_singleton::<Config>(|_| Ok(Arc::new(Config { url: "db://local".into() })))
///     .add_transient::<Client>(client)
///     .build()?;
/// assert_eq!(provider.get::<Client>()?.config.url, "db://local");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Resolver<'a> {
    kind: Kind<'a>,
}

enum Kind<'a> {
    /// A sync factory's: borrows the registry, the scope and its chain link for the call.
    Borrowed { core: &'a Arc<Core>, scope: &'a Arc<ScopeState>, link: &'a Link<'a> },
    /// An async factory's: holds them weakly, with a shared chain.
    Owned { core: Weak<Core>, scope: Weak<ScopeState>, chain: Chain<'static> },
}

impl std::fmt::Debug for Resolver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("creating", &self.chain().path()).finish_non_exhaustive()
    }
}

impl Clone for Resolver<'_> {
    fn clone(&self) -> Self {
        let kind = match &self.kind {
            Kind::Borrowed { core, scope, link } => Kind::Borrowed { core, scope, link },
            Kind::Owned { core, scope, chain } => {
                Kind::Owned { core: core.clone(), scope: scope.clone(), chain: chain.clone() }
            }
        };
        Self { kind }
    }
}

impl<'a> Resolver<'a> {
    pub(crate) fn borrowed(core: &'a Arc<Core>, scope: &'a Arc<ScopeState>, link: &'a Link<'a>) -> Self {
        Self { kind: Kind::Borrowed { core, scope, link } }
    }

    pub(crate) fn owned(core: &Arc<Core>, scope: &Arc<ScopeState>, chain: Chain<'static>) -> Resolver<'static> {
        Resolver { kind: Kind::Owned { core: Arc::downgrade(core), scope: Arc::downgrade(scope), chain } }
    }

    /// The chain a lookup through this resolver is nested in: empty once an owned resolver's
    /// creation has ended.
    fn chain(&self) -> Chain<'_> {
        match &self.kind {
            Kind::Borrowed { link, .. } => Chain::Stack(link),
            Kind::Owned { chain, .. } => chain.current().clone(),
        }
    }

    #[inline]
    fn parts(&self, service: &'static str) -> Result<(Held<'_, Core>, Held<'_, ScopeState>, Chain<'_>), ResolveError> {
        match &self.kind {
            Kind::Borrowed { core, scope, link } => {
                Ok((Held::Borrowed(core), Held::Borrowed(scope), Chain::Stack(link)))
            }
            Kind::Owned { core, scope, chain } => {
                let gone = || ResolveError::Disposed { service, what: "service provider" };
                let core = core.upgrade().ok_or_else(gone)?;
                let scope = scope.upgrade().ok_or_else(gone)?;
                Ok((Held::Owned(core), Held::Owned(scope), chain.current().clone()))
            }
        }
    }

    #[inline]
    fn with<R>(
        &self,
        service: &'static str,
        f: impl FnOnce(&Source<'_, '_>) -> Result<R, ResolveError>,
    ) -> Result<R, ResolveError> {
        let (core, scope, chain) = self.parts(service)?;
        f(&Source { core: &core, scope: &scope, chain: &chain })
    }

    /// The key this instance is being created for, when the registration is keyed with
    /// [`AnyKey`](crate::AnyKey) and so serves many keys; `None` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{AnyKey, Lifetime, ServiceCollection};
    /// struct Queue(String);
    /// let provider = ServiceCollection::new()
    ///     .add_keyed::<Queue, _>(Lifetime::Singleton, AnyKey, |sp| {
    ///         let name = sp.key().and_then(|k| k.downcast_ref::<&str>()).copied().unwrap_or("default");
    ///         Ok(Arc::new(Queue(name.to_owned())))
    ///     })
    ///     .build()?;
    /// assert_eq!(provider.get_keyed::<Queue, _>(&"orders")?.0, "orders");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key(&self) -> Option<&dyn Any> {
        let node = match &self.kind {
            Kind::Borrowed { link, .. } => &link.node,
            Kind::Owned { chain, .. } => chain.innermost()?,
        };
        node.key.as_ref().map(crate::key::ServiceKey::as_any)
    }

    /// A handle to the scope this service is created in (the root, for a singleton), to keep:
    /// it does not keep the container alive. The same as resolving `Arc<ServiceProvider>`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{ServiceCollection, ServiceProvider};
    /// struct Worker { provider: Arc<ServiceProvider> }
    /// let provider = ServiceCollection::new()
    ///     .add_singleton::<Worker>(|sp| Ok(Arc::new(Worker { provider: sp.provider()? })))
    ///     .build()?;
    /// assert!(provider.get::<Worker>()?.provider.is_root());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ResolveError::Disposed`] if the container is gone.
    pub fn provider(&self) -> Result<Arc<ServiceProvider>, ResolveError> {
        let (core, scope, _) = self.parts(type_name::<ServiceProvider>())?;
        Ok(Arc::new(ServiceProvider::handle_of(&core, &scope)))
    }
}

impl<'a> Resolver<'a> {
    /// Resolves the last registration of `T`, as [`ServiceProvider::get`] does, within this
    /// creation.
    ///
    /// # Errors
    ///
    /// As [`ServiceProvider::get`]; a dependency cycle is [`ResolveError::Cycle`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// struct Db;
    /// struct Repo(Arc<Db>);
    /// let provider = ServiceCollection::new()
    ///     .add_singleton::<Db>(|_| Ok(Arc::new(Db)))
    ///     .add_transient::<Repo>(|sp| Ok(Arc::new(Repo(sp.get()?))))
    ///     .build()?;
    /// # provider.get::<Repo>()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn get<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        if let Kind::Borrowed { core, scope, link } = &self.kind {
            // The cached-singleton path, inline (a factory's dependencies are mostly these).
            if !super::disposed(core, scope)
                && let Some(unkeyed) = core.unkeyed::<T>()
                && let Some(instance) = unkeyed.cell.get()
            {
                return Ok(super::downcast(instance));
            }
            return Source { core, scope, chain: &Chain::Stack(link) }.get();
        }
        self.with(type_name::<T>(), |s| s.get())
    }

    /// Resolves `T`, or `Ok(None)` when it has no registration, as
    /// [`ServiceProvider::get_optional`] does.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), except for [`ResolveError::NotRegistered`] of `T` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// struct Metrics;
    /// struct Handler(Option<Arc<Metrics>>);
    /// let provider = ServiceCollection::new()
    ///     .add_transient::<Handler>(|sp| Ok(Arc::new(Handler(sp.get_optional()?))))
    ///     .build()?;
    /// assert!(provider.get::<Handler>()?.0.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_optional<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Option<Arc<T>>, ResolveError> {
        self.with(type_name::<T>(), |s| s.get_optional())
    }

    /// Resolves every registration of `T`, as [`ServiceProvider::get_all`] does.
    ///
    /// # Errors
    ///
    /// The first error any registration fails with.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// struct Checks(Vec<Arc<u8>>);
    /// let provider = ServiceCollection::new()
    ///     .add_singleton_instance(1u8)
    ///     .add_singleton_instance(2u8)
    ///     .add_transient::<Checks>(|sp| Ok(Arc::new(Checks(sp.get_all()?))))
    ///     .build()?;
    /// assert_eq!(provider.get::<Checks>()?.0.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_all<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Vec<Arc<T>>, ResolveError> {
        self.with(type_name::<T>(), |s| s.get_all())
    }

    /// Resolves `T` under `key`, as [`ServiceProvider::get_keyed`] does.
    ///
    /// # Errors
    ///
    /// As [`ServiceProvider::get_keyed`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// struct Cache(Arc<String>);
    /// let provider = ServiceCollection::new()
    ///     .add_keyed_singleton_instance("hot", String::from("redis://hot"))
    ///     .add_transient::<Cache>(|sp| Ok(Arc::new(Cache(sp.get_keyed(&"hot")?))))
    ///     .build()?;
    /// assert_eq!(*provider.get::<Cache>()?.0, "redis://hot");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_keyed<T, K>(&self, key: &K) -> Result<Arc<T>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        self.with(type_name::<T>(), |s| s.get_keyed(key))
    }

    /// Resolves `T` under `key`, or `Ok(None)`, as [`ServiceProvider::get_keyed_optional`] does.
    ///
    /// # Errors
    ///
    /// As [`get_keyed`](Self::get_keyed), except for `NotRegistered` of `T` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// struct Cache(Option<Arc<String>>);
    /// let provider = ServiceCollection::new()
    ///     .add_transient::<Cache>(|sp| Ok(Arc::new(Cache(sp.get_keyed_optional(&"cold")?))))
    ///     .build()?;
    /// assert!(provider.get::<Cache>()?.0.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_keyed_optional<T, K>(&self, key: &K) -> Result<Option<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        self.with(type_name::<T>(), |s| s.get_keyed_optional(key))
    }

    /// Resolves every registration of `T` under `key`, as [`ServiceProvider::get_all_keyed`] does.
    ///
    /// # Errors
    ///
    /// The first error any registration fails with.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// struct Shards(usize);
    /// let provider = ServiceCollection::new()
    ///     .add_keyed_singleton_instance("eu", 1u8)
    ///     .add_keyed_singleton_instance("eu", 2u8)
    ///     .add_transient::<Shards>(|sp| Ok(Arc::new(Shards(sp.get_all_keyed::<u8, _>(&"eu")?.len()))))
    ///     .build()?;
    /// assert_eq!(provider.get::<Shards>()?.0, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_all_keyed<T, K>(&self, key: &K) -> Result<Vec<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        self.with(type_name::<T>(), |s| s.get_all_keyed(key))
    }
}

// ===== async lookups =====

impl Resolver<'_> {
    /// Async [`get`](Self::get): awaits async factories (its own or its dependencies').
    ///
    /// # Errors
    ///
    /// As the sync lookup of the same name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// struct Pool;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services.add_async::<Pool, _>(Lifetime::Singleton, |_| async { Ok(Arc::new(Pool)) });
    /// services.add_async::<Repo, _>(Lifetime::Transient, |sp| async move {
    ///     let _pool: Arc<Pool> = sp.get_async().await?;
    ///     Ok(Arc::new(Repo))
    /// });
    /// # let _ = services.build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        let (core, scope, chain) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &chain }.get_async().await
    }

    /// Async [`get_optional`](Self::get_optional).
    ///
    /// # Errors
    ///
    /// As the sync lookup of the same name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// struct Pool;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services.add_async::<Pool, _>(Lifetime::Singleton, |_| async { Ok(Arc::new(Pool)) });
    /// services.add_async::<Repo, _>(Lifetime::Transient, |sp| async move {
    ///     let _pool: Option<Arc<Pool>> = sp.get_optional_async().await?;
    ///     Ok(Arc::new(Repo))
    /// });
    /// # let _ = services.build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_optional_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Option<Arc<T>>, ResolveError> {
        let (core, scope, chain) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &chain }.get_optional_async().await
    }

    /// Async [`get_all`](Self::get_all).
    ///
    /// # Errors
    ///
    /// As the sync lookup of the same name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// struct Pool;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services.add_async::<Pool, _>(Lifetime::Singleton, |_| async { Ok(Arc::new(Pool)) });
    /// services.add_async::<Repo, _>(Lifetime::Transient, |sp| async move {
    ///     let _pools: Vec<Arc<Pool>> = sp.get_all_async().await?;
    ///     Ok(Arc::new(Repo))
    /// });
    /// # let _ = services.build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_all_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Vec<Arc<T>>, ResolveError> {
        let (core, scope, chain) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &chain }.get_all_async().await
    }

    /// Async [`get_keyed`](Self::get_keyed).
    ///
    /// # Errors
    ///
    /// As the sync lookup of the same name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// struct Pool;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services.add_async::<Pool, _>(Lifetime::Singleton, |_| async { Ok(Arc::new(Pool)) });
    /// services.add_async::<Repo, _>(Lifetime::Transient, |sp| async move {
    ///     let _pool: Option<Arc<Pool>> = sp.get_keyed_async(&"eu").await.ok();
    ///     Ok(Arc::new(Repo))
    /// });
    /// # let _ = services.build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_keyed_async<T, K>(&self, key: &K) -> Result<Arc<T>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        let (core, scope, chain) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &chain }.get_keyed_async(key).await
    }

    /// Async [`get_keyed_optional`](Self::get_keyed_optional).
    ///
    /// # Errors
    ///
    /// As the sync lookup of the same name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// struct Pool;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services.add_async::<Pool, _>(Lifetime::Singleton, |_| async { Ok(Arc::new(Pool)) });
    /// services.add_async::<Repo, _>(Lifetime::Transient, |sp| async move {
    ///     let _pool: Option<Arc<Pool>> = sp.get_keyed_optional_async(&"eu").await?;
    ///     Ok(Arc::new(Repo))
    /// });
    /// # let _ = services.build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_keyed_optional_async<T, K>(&self, key: &K) -> Result<Option<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        let (core, scope, chain) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &chain }.get_keyed_optional_async(key).await
    }

    /// Async [`get_all_keyed`](Self::get_all_keyed).
    ///
    /// # Errors
    ///
    /// As the sync lookup of the same name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// struct Pool;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services.add_async::<Pool, _>(Lifetime::Singleton, |_| async { Ok(Arc::new(Pool)) });
    /// services.add_async::<Repo, _>(Lifetime::Transient, |sp| async move {
    ///     let _pools: Vec<Arc<Pool>> = sp.get_all_keyed_async(&"eu").await?;
    ///     Ok(Arc::new(Repo))
    /// });
    /// # let _ = services.build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_all_keyed_async<T, K>(&self, key: &K) -> Result<Vec<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        let (core, scope, chain) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &chain }.get_all_keyed_async(key).await
    }
}
