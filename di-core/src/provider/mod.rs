//! `ServiceProvider`: the handle every lookup goes through, and the one rule for who owns what.
//! The async lookups are in [`lookups_async`].

mod lookups_async;

use std::any::type_name;
use std::hash::Hash;
use std::sync::{Arc, Weak};

use crate::error::{BuildError, DisposeError, ResolveError};
use crate::options::ProviderOptions;
use crate::registry::Core;
use crate::resolve::Source;
use crate::resolve::chain::Chain;
use crate::scope::{Scope, ScopeState};

/// A borrowed or upgraded `Arc`.
pub(crate) enum Held<'a, T> {
    Borrowed(&'a Arc<T>),
    Owned(Arc<T>),
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = Arc<T>;
    #[inline]
    fn deref(&self) -> &Arc<T> {
        match self {
            Self::Borrowed(a) => a,
            Self::Owned(a) => a,
        }
    }
}

/// The chain of a lookup on a plain handle: it is nested in nothing.
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
/// `Result<Arc<T>, ResolveError>`) or an optional one ([`get_optional`](Self::get_optional),
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
/// let provider: Arc<ServiceProvider> = ServiceCollection::new()
///     .add_singleton::<Db>(|_| Ok(Arc::new(Db)))
///     .add_scoped::<Repo>(|sp| Ok(Arc::new(Repo { db: sp.get()? })))
///     .build()?;
///
/// let scope = provider.create_scope()?;
/// let repo = scope.get::<Repo>()?;
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

    /// A non-owning handle to what this one refers to.
    pub(crate) fn handle(&self) -> Self {
        match &self.handle {
            Handle::Owner { core, scope } => Self::handle_of(core, scope),
            Handle::Weak { core, scope, is_root } => {
                Self { handle: Handle::Weak { core: core.clone(), scope: scope.clone(), is_root: *is_root } }
            }
        }
    }

    /// The registry and scope, borrowed from an owner or upgraded from a weak handle.
    #[inline(always)]
    pub(super) fn parts(&self, service: &'static str) -> Result<(Held<'_, Core>, Held<'_, ScopeState>), ResolveError> {
        match &self.handle {
            Handle::Owner { core, scope } => Ok((Held::Borrowed(core), Held::Borrowed(scope))),
            Handle::Weak { core, scope, is_root } => {
                let gone = |what| ResolveError::Disposed { service, what };
                let core = core.upgrade().ok_or_else(|| gone("service provider"))?;
                let scope = scope.upgrade().ok_or_else(|| gone(if *is_root { "service provider" } else { "scope" }))?;
                Ok((Held::Owned(core), Held::Owned(scope)))
            }
        }
    }

    /// Runs `f` on this handle's source; the cold path of every sync lookup.
    #[inline(never)]
    fn with<R>(
        &self,
        service: &'static str,
        f: impl FnOnce(&Source<'_, 'static>) -> Result<R, ResolveError>,
    ) -> Result<R, ResolveError> {
        let (core, scope) = self.parts(service)?;
        f(&Source { core: &core, scope: &scope, chain: &TOP_LEVEL })
    }
}

// ===== impl ServiceProvider: lookups =====

impl ServiceProvider {
    /// Resolves the last registration of `T`.
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotRegistered`] if `T` has no registration; otherwise whatever creating it
    /// failed with (a factory error or panic, a cycle, a scoped service resolved from the root...).
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().add_singleton_instance(7u32).build()?;
    /// assert_eq!(*provider.get::<u32>()?, 7);
    /// assert!(provider.get::<u64>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn get<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        // The cached-singleton path, inline: a hash lookup and an atomic load, no lock.
        if let Handle::Owner { core, scope } = &self.handle
            && !crate::resolve::disposed(core, scope)
            && let Some(unkeyed) = core.unkeyed::<T>()
            && let Some(instance) = unkeyed.cell.get()
        {
            return Ok(crate::resolve::downcast(instance));
        }
        self.get_uncached()
    }

    /// The rest of [`get`](Self::get), out of line so the cached path stays small enough to inline.
    #[inline(never)]
    fn get_uncached<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        if let Handle::Owner { core, scope } = &self.handle {
            return Source { core, scope, chain: &TOP_LEVEL }.get();
        }
        self.with(type_name::<T>(), |s| s.get())
    }

    /// Resolves `T`, or `Ok(None)` when it has no registration. A registration that fails to
    /// produce the service is still an error: absent and broken are different things.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), except for [`ResolveError::NotRegistered`] of `T` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(provider.get_optional::<u32>()?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_optional<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Option<Arc<T>>, ResolveError> {
        self.with(type_name::<T>(), |s| s.get_optional())
    }

    /// Resolves every registration of `T`, in registration order; empty when there is none.
    /// Each registration has its own instance (and its own cache slot for singletons and scoped
    /// services), so the last element is the instance [`get`](Self::get) returns.
    ///
    /// # Errors
    ///
    /// The first error any registration fails with.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_singleton_instance(1u32)
    ///     .add_singleton_instance(2u32)
    ///     .build()?;
    /// let all: Vec<u32> = provider.get_all::<u32>()?.iter().map(|v| **v).collect();
    /// assert_eq!(all, [1, 2]);
    /// assert!(provider.get_all::<u8>()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_all<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Vec<Arc<T>>, ResolveError> {
        self.with(type_name::<T>(), |s| s.get_all())
    }

    /// Resolves the last registration of `T` under `key`. Unkeyed registrations never answer a
    /// keyed lookup, and keyed ones never answer [`get`](Self::get). When `key` has no
    /// registration of its own, the registration of `T` under [`AnyKey`](crate::AnyKey) (if any) serves it,
    /// with one instance per key for a singleton. The key is cloned only the first time the
    /// fallback serves it.
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotRegistered`] (naming the key) if there is no such registration;
    /// [`ResolveError::AnyKeySingle`] if `key` is [`AnyKey`](crate::AnyKey); otherwise as [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_keyed_singleton_instance("eu", String::from("eu-west-1"))
    ///     .build()?;
    /// assert_eq!(*provider.get_keyed::<String, _>(&"eu")?, "eu-west-1");
    /// assert_eq!(
    ///     provider.get_keyed::<String, _>(&"us").unwrap_err().to_string(),
    ///     "no service registered for `alloc::string::String` with key \"us\"; \
    ///      register it on the `ServiceCollection` before `build()`"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_keyed<T, K>(&self, key: &K) -> Result<Arc<T>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        self.with(type_name::<T>(), |s| s.get_keyed(key))
    }

    /// Resolves `T` under `key`, or `Ok(None)` when there is no such registration.
    ///
    /// # Errors
    ///
    /// As [`get_keyed`](Self::get_keyed), except for `NotRegistered` of `T` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(provider.get_keyed_optional::<String, _>(&"eu")?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_keyed_optional<T, K>(&self, key: &K) -> Result<Option<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        self.with(type_name::<T>(), |s| s.get_keyed_optional(key))
    }

    /// Resolves every registration of `T` under `key`, in registration order, never the
    /// [`AnyKey`](crate::AnyKey) fallback. With `key` = [`AnyKey`](crate::AnyKey): every keyed registration of `T` except the
    /// `AnyKey` one, in registration order across keys, each the instance a single resolve of
    /// its key returns when it is the last of that key.
    ///
    /// # Errors
    ///
    /// The first error any registration fails with.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_keyed_singleton_instance("a", 1u8)
    ///     .add_keyed_singleton_instance("a", 2u8)
    ///     .add_keyed_singleton_instance("b", 3u8)
    ///     .build()?;
    /// assert_eq!(provider.get_all_keyed::<u8, _>(&"a")?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_all_keyed<T, K>(&self, key: &K) -> Result<Vec<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        self.with(type_name::<T>(), |s| s.get_all_keyed(key))
    }

    /// Whether `T` has an unkeyed registration (built-ins included).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{ServiceCollection, ServiceProvider};
    /// let provider = ServiceCollection::new().add_singleton_instance(1u8).build()?;
    /// assert!(provider.is_service::<u8>());
    /// assert!(provider.is_service::<ServiceProvider>());
    /// assert!(!provider.is_service::<u16>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_service<T: ?Sized + 'static>(&self) -> bool {
        self.with(type_name::<T>(), |s| Ok(s.is_service::<T>())).unwrap_or(false)
    }

    /// Whether `T` has a registration under `key`, or one under [`AnyKey`](crate::AnyKey) that serves it. With
    /// `key` = [`AnyKey`](crate::AnyKey): whether [`get_all_keyed`](Self::get_all_keyed) would list anything.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().add_keyed_singleton_instance("a", 1u8).build()?;
    /// assert!(provider.is_keyed_service::<u8, _>(&"a"));
    /// assert!(!provider.is_keyed_service::<u8, _>(&"b"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_keyed_service<T: ?Sized + 'static, K: Eq + Hash + Send + Sync + 'static>(&self, key: &K) -> bool {
        self.with(type_name::<T>(), |s| Ok(s.is_keyed_service::<T, K>(key))).unwrap_or(false)
    }
}

// ===== impl ServiceProvider: scopes and disposal =====

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
    /// let provider = di_core::ServiceCollection::new().add_scoped::<u64>(|_| Ok(Arc::new(1u64))).build()?;
    /// let outer = provider.create_scope()?;
    /// let inner = outer.create_scope()?;
    /// assert!(!Arc::ptr_eq(&outer.get::<u64>()?, &inner.get::<u64>()?));
    /// drop(outer);
    /// assert!(inner.get::<u64>().is_ok()); // ending the outer scope leaves the inner one alone
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_scope(&self) -> Result<Scope, ResolveError> {
        if let Handle::Owner { core, .. } = &self.handle {
            return Core::create_scope(core);
        }
        let (core, _) = self.parts("di_core::Scope")?;
        Core::create_scope(&core)
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
            Ok((_, scope)) => scope.dispose_async().await,
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
    /// let provider = di_core::ServiceCollection::new().add_singleton_instance(1u8).build()?;
    /// provider.dispose_sync()?;
    /// assert!(provider.get::<u8>().unwrap_err().is_disposed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dispose_sync(&self) -> Result<(), DisposeError> {
        match self.parts("di_core::ServiceProvider") {
            Ok((_, scope)) => scope.dispose_sync(),
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
        self.parts("di_core::ServiceProvider").map_or(true, |(core, scope)| scope.is_disposed() || core.is_disposed())
    }

    /// Whether this handle is the root provider (not a scope).
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(provider.is_root());
    /// assert!(!provider.create_scope()?.is_root());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_root(&self) -> bool {
        match &self.handle {
            Handle::Owner { scope, .. } => scope.is_root,
            Handle::Weak { is_root, .. } => *is_root,
        }
    }
}
