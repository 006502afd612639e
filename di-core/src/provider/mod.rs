//! `ServiceProvider`: the handle every lookup goes through, and the one rule for who owns what.

use std::any::type_name;
use std::future::Future;
use std::sync::{Arc, Weak};

use crate::error::{BuildError, DisposeError, DisposedScope, ResolveError};
use crate::key::Key;
use crate::options::ProviderOptions;
use crate::registry::{Core, Unkeyed};
use crate::resolve::chain::Chain;
use crate::resolve::lookup::{Held, KeyedLookup, Parts};
use crate::resolve::{Resolvable, Source};
use crate::scope::{Scope, ScopeState};

pub(super) static TOP_LEVEL: Chain<'static> = Chain::Empty;

#[derive(Debug)]
enum Handle {
    /// The owner of the root (what `build()` returns) or of a scope (inside a [`Scope`]).
    Owner { core: Arc<Core>, scope: Arc<ScopeState> },
    /// Any other handle: refers to its root or scope without keeping it alive.
    Weak { core: Weak<Core>, scope: Weak<ScopeState>, is_root: bool },
}

/// A handle to the built container (the root) or to one of its scopes: resolves services,
/// creates scopes, and disposes what its root or scope created.
///
/// # Who owns what
///
/// One rule, everywhere: **the root is owned by the provider [`build`](crate::ServiceCollection::build)
/// returns, and a scope by its [`Scope`]; no other handle owns anything.** Dropping an owner (the
/// last `Arc` of the root provider, or the `Scope`) ends what it owns: the root or scope is
/// disposed (sync hooks run, async-only hooks are reported) and every handle to it then returns
/// [`ResolveError::Disposed`]. Every handle the container gives out is a non-owning one:
/// `Arc<ServiceProvider>` resolved from it, [`Scope::provider`], [`ScopeFactory`](crate::ScopeFactory),
/// and the [`Resolver`](crate::Resolver) a factory receives. A service may keep any of them (a
/// hosted service keeps an `Arc<ServiceProvider>` and creates a scope per unit of work) without
/// keeping the container alive: no `Arc` cycle can be built through the container's handles.
///
/// Resolve with a fallible lookup ([`get`](Self::get) and friends, returning
/// `Result<Arc<T>, ResolveError>`) or an optional one ([`resolve::<Option<Arc<T>>>()`](Self::resolve),
/// returning `Ok(None)` when nothing is registered). Lookups of a cached singleton through an
/// owner take no lock and do not allocate.
///
/// The provider resolves itself: `get::<ServiceProvider>()` returns a (non-owning) handle to the
/// provider it was resolved from (the root, or the scope), and `get::<ScopeFactory>()` the scope
/// factory.
///
/// Scoped services resolved from the root are an error ([`ResolveError::ScopedFromRoot`]) unless
/// [`ProviderOptions::validate_scopes`] is off.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{ServiceCollection, ServiceProvider};
///
/// struct Db;
/// struct Repo { db: Arc<Db> }
///
/// let mut services = ServiceCollection::new();
/// services.add_singleton::<Db>(|_| Ok(Arc::new(Db)));
/// services.add_scoped::<Repo>(|sp| Ok(Arc::new(Repo { db: sp.get()? })));
/// let provider: Arc<ServiceProvider> = services.build()?;
///
/// let scope = provider.create_scope()?;
/// let repo = scope.provider().get::<Repo>()?;
/// assert!(Arc::ptr_eq(&repo.db, &provider.get::<Db>()?));
///
/// // A handle the container gives out does not own the container.
/// let handle = provider.get::<ServiceProvider>()?;
/// drop(scope);
/// drop(provider);
/// assert!(handle.get::<Db>().is_err_and(|e| e.is_disposed()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ServiceProvider {
    handle: Handle,
}

impl std::fmt::Debug for ServiceProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProvider")
            .field("scope", &if self.is_root() { "root" } else { "scope" })
            .field("owner", &matches!(self.handle, Handle::Owner { .. }))
            .field("disposed", &self.is_disposed())
            .finish_non_exhaustive()
    }
}

impl Drop for ServiceProvider {
    fn drop(&mut self) {
        if let Handle::Owner { scope, .. } = &self.handle {
            scope.dispose_on_drop();
        }
    }
}

// ===== impl ServiceProvider: construction =====

impl ServiceProvider {
    pub(crate) fn build(
        descriptors: Vec<crate::descriptor::Descriptor>,
        options: ProviderOptions,
    ) -> Result<Self, BuildError> {
        let core = Core::build(descriptors, options)?;
        let root = core.root.clone();
        Ok(Self::owner(core, root))
    }

    pub(crate) fn owner(core: Arc<Core>, scope: Arc<ScopeState>) -> Self {
        Self { handle: Handle::Owner { core, scope } }
    }

    /// A non-owning handle to `scope` (the root, or a scope) of `core`.
    pub(crate) fn handle_of(core: &Arc<Core>, scope: &Arc<ScopeState>) -> Self {
        Self {
            handle: Handle::Weak { core: Arc::downgrade(core), scope: Arc::downgrade(scope), is_root: scope.is_root },
        }
    }

    /// The registry and scope, borrowed from an owner or upgraded from a weak handle.
    #[inline(always)]
    pub(crate) fn parts(&self, service: &'static str) -> Result<Parts<'_>, ResolveError> {
        match &self.handle {
            Handle::Owner { core, scope } => {
                Ok(Parts { core: Held::Borrowed(core), scope: Held::Borrowed(scope), chain: Chain::Empty })
            }
            Handle::Weak { core, scope, is_root } => {
                let gone = |scope| ResolveError::Disposed { service, scope };
                let core = core.upgrade().ok_or_else(|| gone(DisposedScope::Root))?;
                let scope = scope
                    .upgrade()
                    .ok_or_else(|| gone(if *is_root { DisposedScope::Root } else { DisposedScope::Scope }))?;
                Ok(Parts { core: Held::Owned(core), scope: Held::Owned(scope), chain: Chain::Empty })
            }
        }
    }
}

// ===== impl ServiceProvider: lookups =====

impl ServiceProvider {
    /// Resolves the last registration of `T`: the shorthand for
    /// [`resolve::<Arc<T>>()`](Self::resolve).
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotRegistered`] if `T` has no registration; otherwise whatever creating it
    /// failed with (a factory error or panic, a cycle, a scoped service resolved from the root...).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(7u32));
    /// let provider = services.build()?;
    /// assert_eq!(*provider.get::<u32>()?, 7);
    /// assert!(provider.get::<u64>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn get<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        // The cached-singleton path, inline: a hash lookup and an atomic load, no lock. A miss
        // hands the entry it found to the out-of-line part: creating does not check and probe again.
        if let Handle::Owner { core, scope } = &self.handle
            && !crate::resolve::disposed(core, scope)
        {
            let probed = core.probe::<T>();
            if let Some(instance) = Core::cached::<T>(probed) {
                return Ok(instance.clone());
            }
            return self.get_uncached(Core::found::<T>(probed));
        }
        self.get_uncached(None)
    }

    /// The rest of [`get`](Self::get), out of line so the cached path stays small enough to
    /// inline. `found`: the entry of `T`, probed by an owner whose scope and root were live.
    #[inline(never)]
    fn get_uncached<T: ?Sized + Send + Sync + 'static>(&self, found: Option<&Unkeyed>) -> Result<Arc<T>, ResolveError> {
        if let Handle::Owner { core, scope } = &self.handle {
            let source = Source { core, scope, chain: &TOP_LEVEL };
            return match found {
                Some(unkeyed) => source.create_unkeyed(unkeyed),
                None => source.get(),
            };
        }
        self.resolve::<Arc<T>>()
    }

    /// Async [`get`](Self::get): awaits async factories, the service's own or its dependencies'.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{BoxError, Lifetime, ServiceCollection, Source};
    /// struct Pool;
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(Pool)) }));
    /// let provider = services.build()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// let pool = rt.block_on(provider.get_async::<Pool>())?;
    /// assert!(Arc::ptr_eq(&pool, &provider.get::<Pool>()?)); // created: sync lookups find it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        self.resolve_async::<Arc<T>>().await
    }

    /// Resolves `R`, whose type says what comes back (see [`Resolvable`]): `Arc<T>` (the last
    /// registration), `Option<Arc<T>>` (`None` when `T` has no registration; a registration that
    /// fails is still an error: absent and broken differ) or `Vec<Arc<T>>` (every registration,
    /// in order).
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get); the first error of any registration for `Vec<Arc<T>>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(1u8));
    /// services.add(Lifetime::Singleton, Source::instance(2u8));
    /// let provider = services.build()?;
    /// assert_eq!(provider.resolve::<Vec<Arc<u8>>>()?.len(), 2);
    /// assert!(provider.resolve::<Option<Arc<u16>>>()?.is_none());
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
    /// use std::sync::Arc;
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// assert!(rt.block_on(provider.resolve_async::<Vec<Arc<u8>>>())?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn resolve_async<R: Resolvable>(&self) -> Result<R, ResolveError> {
        let parts = self.parts(R::service().1)?;
        R::resolve_async(&parts.source()).await
    }

    /// The lookups under `key`, for registrations made with
    /// [`ServiceCollection::keyed`](crate::ServiceCollection::keyed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.keyed("cold").add_singleton::<String>(|_| Ok(Arc::new("s3://archive".into())));
    /// let provider = services.build()?;
    /// assert_eq!(*provider.keyed(&"cold").get::<String>()?, "s3://archive");
    /// assert!(provider.get::<String>().is_err()); // keyed registrations are not unkeyed ones
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyed<'a, K: Key>(&'a self, key: &'a K) -> KeyedLookup<'a, K> {
        KeyedLookup::provider(self, key)
    }

    /// Whether `T` has a registration (unkeyed): what `IServiceProviderIsService` answers in
    /// .NET. `false` once the provider is disposed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.add_scoped::<String>(|_| Ok(Arc::new(String::new())));
    /// let provider = services.build()?;
    /// assert!(provider.contains::<String>()); // scoped: present, even if the root cannot create it
    /// assert!(!provider.contains::<u8>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains<T: ?Sized + 'static>(&self) -> bool {
        self.parts(type_name::<T>()).is_ok_and(|p| p.source().is_service::<T>())
    }
}

impl ServiceProvider {
    /// Creates a scope. Works on the root and on a scope alike: scopes are flat, so a scope of a
    /// scope is another child of the root.
    ///
    /// # Errors
    ///
    /// [`ResolveError::Disposed`] if the root provider was disposed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.add_scoped::<u64>(|_| Ok(Arc::new(1u64)));
    /// let provider = services.build()?;
    /// let outer = provider.create_scope()?;
    /// let inner = outer.provider().create_scope()?;
    /// assert!(!Arc::ptr_eq(&outer.provider().get::<u64>()?, &inner.provider().get::<u64>()?));
    /// drop(outer);
    /// assert!(inner.provider().get::<u64>().is_ok()); // ending the outer scope leaves the inner one alone
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_scope(&self) -> Result<Scope, ResolveError> {
        if let Handle::Owner { core, .. } = &self.handle {
            return Core::create_scope(core);
        }
        let parts = self.parts("di_core::Scope")?;
        Core::create_scope(&parts.core)
    }

    /// Disposes what this provider created, awaiting async hooks (preferred over sync ones), in
    /// reverse creation order, each exactly once. On the root: every singleton and, with scope
    /// validation off, root-scoped services; afterwards every resolve and `create_scope` on the
    /// root or any of its scopes returns [`ResolveError::Disposed`]. On a scope: that scope's
    /// services. A second call runs whatever an earlier, cancelled call left (see
    /// [`Scope::dispose`]), and otherwise does nothing.
    ///
    /// # Errors
    ///
    /// [`DisposeError`] listing every hook that failed or panicked; the others still ran.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// # let _ = async move {
    /// provider.dispose().await?;
    /// # Ok::<(), di_core::DisposeError>(())
    /// # };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn dispose(&self) -> Result<(), DisposeError> {
        match self.parts("di_core::ServiceProvider") {
            Ok(parts) => parts.scope.dispose_async().await,
            Err(_) => Ok(()), // what it referred to is gone, and was disposed when it went
        }
    }

    /// [`dispose`](Self::dispose), given up when `until` completes (a deadline, a token): what
    /// a host uses to keep its shutdown bounded. The hook running then is abandoned
    /// ([`DisposeFailure::Interrupted`](crate::DisposeFailure::Interrupted)) and the hooks not
    /// started are dropped unrun ([`DisposeFailure::NotRun`](crate::DisposeFailure::NotRun)),
    /// each reported by its service's name; the container counts as disposed either way.
    ///
    /// # Errors
    ///
    /// As [`dispose`](Self::dispose), plus the hooks abandoned or not run.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use di_core::{DisposeFailure, ServiceCollection};
    /// struct Flusher;
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Flusher>(|_| Ok(std::sync::Arc::new(Flusher)))
    ///     .on_dispose_async(|_| std::future::pending()); // never finishes
    /// let provider = services.build()?;
    /// provider.get::<Flusher>()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    /// # rt.block_on(async {
    /// let err = provider.dispose_until(tokio::time::sleep(Duration::from_millis(10))).await.unwrap_err();
    /// assert!(matches!(err.failures(), [DisposeFailure::Interrupted { .. }]));
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn dispose_until(&self, until: impl Future<Output = ()>) -> Result<(), DisposeError> {
        match self.parts("di_core::ServiceProvider") {
            Ok(parts) => parts.scope.dispose_async_until(until).await,
            Err(_) => Ok(()), // what it referred to is gone, and was disposed when it went
        }
    }

    /// Disposes synchronously: like [`dispose`](Self::dispose) but runs only sync hooks; an
    /// instance that has only an async hook is reported as [`DisposeFailure::AsyncOnly`](crate::DisposeFailure::AsyncOnly)
    /// rather than blocked on.
    ///
    /// # Errors
    ///
    /// [`DisposeError`] listing every hook that failed, panicked or could not run synchronously.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(1u8));
    /// let provider = services.build()?;
    /// provider.dispose_sync()?;
    /// assert!(provider.get::<u8>().unwrap_err().is_disposed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dispose_sync(&self) -> Result<(), DisposeError> {
        match self.parts("di_core::ServiceProvider") {
            Ok(parts) => parts.scope.dispose_sync(),
            Err(_) => Ok(()),
        }
    }

    /// Whether this provider (the root, or the scope) has been disposed.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(!provider.is_disposed());
    /// provider.dispose_sync()?;
    /// assert!(provider.is_disposed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_disposed(&self) -> bool {
        self.parts("di_core::ServiceProvider").map_or(true, |p| p.scope.is_disposed() || p.core.is_disposed())
    }

    /// Whether this handle is the root provider (not a scope).
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(provider.is_root());
    /// assert!(!provider.create_scope()?.provider().is_root());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_root(&self) -> bool {
        match &self.handle {
            Handle::Owner { scope, .. } => scope.is_root,
            Handle::Weak { is_root, .. } => *is_root,
        }
    }
}
