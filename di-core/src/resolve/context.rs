//! [`Resolver`]: what a factory resolves its dependencies through.

use std::any::type_name;
use std::sync::{Arc, Weak};

use super::chain::{Chain, Link};
use super::lookup::{Held, KeyedLookup, Parts};
use super::request::Resolvable;
use super::source::Source;
use crate::error::{DisposedScope, ResolveError};
use crate::key::Key;
use crate::provider::ServiceProvider;
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
/// The lookups are [`ServiceProvider`]'s: [`get`](Self::get), [`resolve`](Self::resolve), their
/// async forms, and [`keyed`](Self::keyed). To keep a handle for later (to create a scope per
/// unit of work, say), resolve `Arc<ServiceProvider>`: a resolver is for the creation.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{BoxError, Resolver, ServiceCollection};
///
/// struct Config { url: String }
/// struct Client { config: Arc<Config> }
///
/// fn client(sp: &Resolver<'_>) -> Result<Arc<Client>, BoxError> {
///     Ok(Arc::new(Client { config: sp.get()? }))
/// }
///
/// let mut services = ServiceCollection::new();
/// services.add_singleton::<Config>(|_| Ok(Arc::new(Config { url: "db://local".into() })));
/// services.add_transient::<Client>(client);
/// let provider = services.build()?;
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
    pub(crate) fn parts(&self, service: &'static str) -> Result<Parts<'_>, ResolveError> {
        match &self.kind {
            Kind::Borrowed { core, scope, link } => {
                Ok(Parts { core: Held::Borrowed(core), scope: Held::Borrowed(scope), chain: Chain::Stack(link) })
            }
            Kind::Owned { core, scope, chain } => {
                let gone = || ResolveError::Disposed { service, scope: DisposedScope::Root };
                let core = core.upgrade().ok_or_else(gone)?;
                let scope = scope.upgrade().ok_or_else(gone)?;
                Ok(Parts { core: Held::Owned(core), scope: Held::Owned(scope), chain: chain.current().clone() })
            }
        }
    }

    /// The key this instance is being created for, if it is keyed with a `K`: the key of the
    /// registration, or, for an [`AnyKey`](crate::AnyKey) registration serving many keys, the
    /// key it was resolved with. So one factory can serve several keys.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{AnyKey, ServiceCollection};
    /// struct Queue(String);
    /// let mut services = ServiceCollection::new();
    /// services.keyed(AnyKey).add_singleton::<Queue>(|sp| {
    ///     let name = sp.key::<&str>().copied().unwrap_or("default");
    ///     Ok(Arc::new(Queue(name.to_owned())))
    /// });
    /// let provider = services.build()?;
    /// assert_eq!(provider.keyed(&"orders").get::<Queue>()?.0, "orders");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key<K: 'static>(&self) -> Option<&K> {
        let key = match &self.kind {
            // The key served (`AnyKey`), else the registration's own (a real slot's descriptor).
            Kind::Borrowed { core, link, .. } => {
                let node = &link.node;
                node.key.as_ref().or_else(|| core.descriptors.get(node.id as usize)?.key.as_ref())
            }
            Kind::Owned { chain, .. } => chain.innermost()?.key.as_ref(),
        };
        key?.as_any().downcast_ref()
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
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Worker>(|sp| Ok(Arc::new(Worker { provider: sp.provider()? })));
    /// let provider = services.build()?;
    /// assert!(provider.get::<Worker>()?.provider.is_root());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ResolveError::Disposed`] if the container is gone.
    pub fn provider(&self) -> Result<Arc<ServiceProvider>, ResolveError> {
        let parts = self.parts(type_name::<ServiceProvider>())?;
        Ok(Arc::new(ServiceProvider::handle_of(&parts.core, &parts.scope)))
    }

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
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Db>(|_| Ok(Arc::new(Db)));
    /// services.add_transient::<Repo>(|sp| Ok(Arc::new(Repo(sp.get()?))));
    /// # services.build()?.get::<Repo>()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn get<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        if let Kind::Borrowed { core, scope, link } = &self.kind {
            // The cached-singleton path, inline (a factory's dependencies are mostly these).
            if !super::disposed(core, scope)
                && let Some(instance) = Core::cached::<T>(core.probe::<T>())
            {
                return Ok(instance.clone());
            }
            return Source { core, scope, chain: &Chain::Stack(link) }.get();
        }
        self.resolve::<Arc<T>>()
    }

    /// Async [`get`](Self::get): awaits async factories (its own or its dependencies').
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{BoxError, Lifetime, ResolveError, ServiceCollection, Source};
    /// struct Pool;
    /// struct Repo(Arc<Pool>);
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(Pool)) }));
    /// services.add(Lifetime::Transient, Source::from_async_fn(|sp| async move {
    ///     Ok::<_, ResolveError>(Arc::new(Repo(sp.get_async().await?)))
    /// }));
    /// # let provider = services.build()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// # rt.block_on(provider.get_async::<Repo>())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        self.resolve_async::<Arc<T>>().await
    }

    /// Resolves `R`: `Arc<T>`, `Option<Arc<T>>` or `Vec<Arc<T>>` (see [`Resolvable`]), within
    /// this creation.
    ///
    /// # Errors
    ///
    /// As [`ServiceProvider::resolve`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// struct Metrics;
    /// struct Handler(Option<Arc<Metrics>>);
    /// let mut services = ServiceCollection::new();
    /// services.add_transient::<Handler>(|sp| Ok(Arc::new(Handler(sp.resolve()?))));
    /// assert!(services.build()?.get::<Handler>()?.0.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve<R: Resolvable>(&self) -> Result<R, ResolveError> {
        let parts = self.parts(R::service().1)?;
        R::resolve(&parts.source())
    }

    /// Async [`resolve`](Self::resolve).
    ///
    /// # Errors
    ///
    /// As [`resolve`](Self::resolve).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ResolveError, ServiceCollection, Source};
    /// struct Plugins(usize);
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Transient, Source::from_async_fn(|sp| async move {
    ///     Ok::<_, ResolveError>(Arc::new(Plugins(sp.resolve_async::<Vec<Arc<u8>>>().await?.len())))
    /// }));
    /// # let provider = services.build()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// # assert_eq!(rt.block_on(provider.get_async::<Plugins>())?.0, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn resolve_async<R: Resolvable>(&self) -> Result<R, ResolveError> {
        let parts = self.parts(R::service().1)?;
        R::resolve_async(&parts.source()).await
    }

    /// The lookups under `key`, within this creation.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// struct Cache(Arc<String>);
    /// let mut services = ServiceCollection::new();
    /// services.keyed("hot").add_singleton::<String>(|_| Ok(Arc::new("redis://hot".into())));
    /// services.add_transient::<Cache>(|sp| Ok(Arc::new(Cache(sp.keyed(&"hot").get()?))));
    /// assert_eq!(*services.build()?.get::<Cache>()?.0, "redis://hot");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyed<'k, K: Key>(&'k self, key: &'k K) -> KeyedLookup<'k, K>
    where
        'a: 'k,
    {
        KeyedLookup::resolver(self, key)
    }

    /// Whether `T` has a registration (unkeyed).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// struct Tracing;
    /// struct App(bool);
    /// let mut services = ServiceCollection::new();
    /// services.add_transient::<App>(|sp| Ok(Arc::new(App(sp.contains::<Tracing>()))));
    /// assert!(!services.build()?.get::<App>()?.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains<T: ?Sized + 'static>(&self) -> bool {
        self.parts(type_name::<T>()).is_ok_and(|p| p.source().is_service::<T>())
    }
}
