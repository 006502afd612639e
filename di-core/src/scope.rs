//! Scopes: a per-scope cache of scoped services, and reverse-order teardown of what the scope created.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use event_listener::Event;

use crate::descriptor::Instance;
use crate::dispose::Disposer;
use crate::error::{DisposeError, DisposeFailure, ResolveError};
use crate::provider::{Core, ServiceProvider};
use crate::resolve::cell::ScopedSlots;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data is only touched by this module, never while user code runs.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a scope guards with its one lock: its scoped services and the hooks it must run.
#[derive(Default)]
struct Inner {
    slots: ScopedSlots,
    disposers: Vec<Disposer>,
    disposed: bool,
}

/// The state behind a scope (or the root): its scoped services and what it must dispose.
///
/// Creating one allocates nothing but itself: scoped services are added on first use of each
/// scoped registration, so a scope costs the same with 10 or 10,000 registrations.
pub(crate) struct ScopeState {
    pub(crate) is_root: bool,
    disposed: AtomicBool,
    /// Notified whenever a scoped creation in this scope ends, for the resolutions waiting on it.
    changed: Event,
    inner: Mutex<Inner>,
}

impl ScopeState {
    pub(crate) fn new(is_root: bool) -> Self {
        Self { is_root, disposed: AtomicBool::new(false), changed: Event::new(), inner: Mutex::default() }
    }

    #[inline]
    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    #[inline]
    pub(crate) fn is_disposed(&self) -> bool {
        self.disposed.load(Ordering::Acquire)
    }

    pub(crate) fn what(&self) -> &'static str {
        if self.is_root { "service provider" } else { "scope" }
    }

    /// Runs `f` on the scoped services, under the scope's lock (held only for `f`).
    #[inline]
    pub(crate) fn with_slots<R>(&self, f: impl FnOnce(&mut ScopedSlots) -> R) -> R {
        f(&mut self.lock().slots)
    }

    /// Ends a creation in this scope: stores the value (`None`: the creation failed and the slot
    /// is freed for a retry), unless the scope was disposed meanwhile, and wakes the waiters. A
    /// value the disposed scope cannot keep is dropped here, outside the lock.
    #[inline]
    pub(crate) fn finish(&self, slot: u32, value: Option<Instance>) {
        let late = {
            let mut inner = self.lock();
            match value {
                Some(v) if !inner.disposed => {
                    inner.slots.set_ready(slot, v);
                    None
                }
                other => {
                    inner.slots.remove(slot);
                    other
                }
            }
        };
        drop(late);
        self.changed.notify(usize::MAX);
    }

    pub(crate) fn changed(&self) -> &Event {
        &self.changed
    }

    /// Records a created instance's hooks. If the scope is already disposed (or being disposed),
    /// hands them back: the caller runs them at once (awaiting them on the async path) and
    /// reports [`ResolveError::Disposed`].
    pub(crate) fn track(&self, disposer: Disposer) -> Result<(), Disposer> {
        let mut inner = self.lock();
        if inner.disposed {
            return Err(disposer);
        }
        inner.disposers.push(disposer);
        Ok(())
    }

    /// The error for an instance that [`track`](Self::track) handed back, after its hooks ran.
    pub(crate) fn created_too_late(&self, service: &'static str, disposal: Result<(), DisposeFailure>) -> ResolveError {
        if let Err(failure) = disposal {
            tracing::warn!(%failure, "instance created during disposal could not be disposed");
        }
        ResolveError::Disposed { service, what: self.what() }
    }

    /// Marks the scope disposed and takes its hooks (newest first) and its cached services, in
    /// one critical section. `None` if already disposed. The services are dropped by the caller
    /// after the hooks ran, outside the lock: dropping a service may drop a provider handle.
    fn begin_dispose(&self) -> Option<(Vec<Disposer>, ScopedSlots)> {
        let mut inner = self.lock();
        if inner.disposed {
            return None;
        }
        inner.disposed = true;
        self.disposed.store(true, Ordering::Release);
        let mut disposers = std::mem::take(&mut inner.disposers);
        disposers.reverse();
        Some((disposers, std::mem::take(&mut inner.slots)))
    }

    pub(crate) fn dispose_sync(&self) -> Result<(), DisposeError> {
        let Some((disposers, services)) = self.begin_dispose() else { return Ok(()) };
        let failures: Vec<DisposeFailure> = disposers.into_iter().filter_map(|d| d.run_sync().err()).collect();
        drop(services);
        DisposeError::from_failures(failures)
    }

    pub(crate) async fn dispose_async(&self) -> Result<(), DisposeError> {
        let Some((disposers, services)) = self.begin_dispose() else { return Ok(()) };
        let mut failures = Vec::new();
        for d in disposers {
            if let Err(f) = d.run_async().await {
                failures.push(f);
            }
        }
        drop(services);
        DisposeError::from_failures(failures)
    }

    /// The sync disposal a `Drop` does: it cannot await, so async-only hooks are reported
    /// through `tracing` as leaks instead of blocking or panicking.
    pub(crate) fn dispose_on_drop(&self) {
        if let Err(err) = self.dispose_sync() {
            for failure in err.failures() {
                match failure {
                    DisposeFailure::AsyncOnly { service } => tracing::warn!(
                        service,
                        "dropped without `dispose().await`: the async disposal hook of `{service}` did not run"
                    ),
                    other => tracing::warn!(failure = %other, "disposal hook failed while dropping"),
                }
            }
        }
    }
}

/// A scope: scoped services resolved through it are created once and live until it ends.
///
/// A scope derefs to a [`ServiceProvider`], so everything you can resolve from the root you can
/// resolve from a scope. It ends when you call [`dispose`](Self::dispose) (awaiting async hooks),
/// [`dispose_sync`](ServiceProvider::dispose_sync), or drop it: the hooks of the instances it
/// created run in reverse creation order, exactly once. Dropping cannot await, so async-only
/// hooks are then skipped and reported through `tracing` as a warning; call `dispose().await`
/// when a scope holds async resources.
///
/// Scopes are flat: a scope created from a scope is another child of the root, and ending one
/// never affects the other.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::ServiceCollection;
///
/// struct UnitOfWork;
/// let provider = ServiceCollection::new().add_scoped::<UnitOfWork>(|_| Ok(Arc::new(UnitOfWork))).build()?;
///
/// let first = provider.create_scope()?;
/// let second = provider.create_scope()?;
/// assert!(Arc::ptr_eq(&first.get::<UnitOfWork>()?, &first.get::<UnitOfWork>()?));
/// assert!(!Arc::ptr_eq(&first.get::<UnitOfWork>()?, &second.get::<UnitOfWork>()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a scope ends, and disposes what it created, as soon as it is dropped"]
#[derive(Debug)]
pub struct Scope {
    provider: ServiceProvider,
}

impl Scope {
    pub(crate) fn new(provider: ServiceProvider) -> Self {
        Self { provider }
    }

    /// The scope's provider, as an owned handle you can hand to code that wants an
    /// `Arc<ServiceProvider>`. Resolving through it after the scope ended returns
    /// [`ResolveError::Disposed`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let provider = di_core::ServiceCollection::new().add_scoped::<u8>(|_| Ok(Arc::new(1u8))).build()?;
    /// let scope = provider.create_scope()?;
    /// let handle = scope.provider();
    /// assert_eq!(*handle.get::<u8>()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provider(&self) -> Arc<ServiceProvider> {
        Arc::new(self.provider.clone())
    }

    /// Ends the scope, awaiting every hook (async ones preferred) in reverse creation order.
    /// A second call does nothing.
    ///
    /// # Errors
    ///
    /// [`DisposeError`] listing every hook that failed or panicked; the others still ran.
    ///
    /// # Examples
    ///
    /// ```
    /// # let provider = di_core::ServiceCollection::new().build()?;
    /// let scope = provider.create_scope()?;
    /// # let fut = async move {
    /// scope.dispose().await?;
    /// # Ok::<(), di_core::DisposeError>(())
    /// # };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn dispose(&self) -> Result<(), DisposeError> {
        self.provider.dispose().await
    }
}

impl Deref for Scope {
    type Target = ServiceProvider;
    fn deref(&self) -> &ServiceProvider {
        &self.provider
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        self.provider.scope_state().dispose_on_drop();
    }
}

/// Creates scopes; the same instance is resolved everywhere (root and scopes) as
/// `Arc<ScopeFactory>`. It does not keep the provider alive: once the root is gone,
/// [`create_scope`](Self::create_scope) returns [`ResolveError::Disposed`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{ScopeFactory, ServiceCollection};
///
/// let provider = ServiceCollection::new().build()?;
/// let factory = provider.get::<ScopeFactory>()?;
/// let scope = factory.create_scope()?;
/// assert!(Arc::ptr_eq(&factory, &scope.get::<ScopeFactory>()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ScopeFactory {
    core: Weak<Core>,
}

impl ScopeFactory {
    pub(crate) fn new(core: Weak<Core>) -> Self {
        Self { core }
    }

    /// Creates a new scope of the root provider.
    ///
    /// # Errors
    ///
    /// [`ResolveError::Disposed`] when the root provider was disposed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_core::{ScopeFactory, ServiceCollection};
    /// # let provider = ServiceCollection::new().build()?;
    /// let scope = provider.get::<ScopeFactory>()?.create_scope()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_scope(&self) -> Result<Scope, ResolveError> {
        match self.core.upgrade() {
            Some(core) => Core::create_scope(&core),
            None => Err(ResolveError::Disposed { service: "di_core::Scope", what: "service provider" }),
        }
    }
}
