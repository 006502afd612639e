//! Scopes: a per-scope cache of scoped services, and reverse-order teardown of what the scope
//! (or the root) created.

use std::sync::Arc;

use std::future::Future;

use event_listener::{Event, EventListener};
use futures_util::future::{Either, select};

use crate::descriptor::Instance;
use crate::dispose::Disposer;
use crate::error::{DisposeError, DisposeFailure, ResolveError};
use crate::provider::ServiceProvider;
use crate::registry::Core;
use crate::resolve::once::Owner;
use crate::resolve::scoped::{Scoped, ScopedSlots};
use crate::sync::{AtomicBool, Mutex, MutexGuard, Ordering, lock};

/// What a scope guards with its one lock.
#[derive(Debug, Default)]
struct Inner {
    slots: ScopedSlots,
    /// Hooks of the instances this scope created, oldest first.
    disposers: Vec<Disposer>,
    disposed: bool,
    /// Resolutions waiting for a creation in this scope, or disposals waiting for hooks another
    /// disposal is running: `changed` is notified only when there are some.
    waiters: u32,
    /// Hooks taken by a `dispose()` call and still running.
    in_flight: u32,
    /// Hooks whose `dispose()` future was dropped while they ran: reported by the next disposal.
    interrupted: Vec<&'static str>,
}

/// The state behind a scope (or the root): its scoped services and what it must dispose.
///
/// Creating one allocates nothing but itself: scoped services are added on first use of each
/// scoped registration, so a scope costs the same with 10 or 10,000 registrations.
#[derive(Debug)]
pub(crate) struct ScopeState {
    pub(crate) is_root: bool,
    disposed: AtomicBool,
    /// Notified when a creation in this scope ends or a disposal hook finishes, if anyone waits.
    changed: Event,
    inner: Mutex<Inner>,
}

/// The outcome of claiming a scoped service's slot.
pub(crate) enum ScopedClaim {
    Disposed,
    Ready(Instance),
    /// This creation owns the slot.
    Mine,
    Busy(Owner),
}

/// An instance whose creation finished after its owner began disposal: its hooks, to run now.
pub(crate) struct Late(pub(crate) Option<Disposer>);

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
        self.disposed.load(Ordering::SeqCst)
    }

    pub(crate) fn disposed_scope(&self) -> crate::error::DisposedScope {
        if self.is_root { crate::error::DisposedScope::Root } else { crate::error::DisposedScope::Scope }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn disposed_error(&self, service: &'static str) -> ResolveError {
        ResolveError::Disposed { service, scope: self.disposed_scope() }
    }

    /// Claims `slot` for `me`, under the same lock disposal takes: a disposed scope never
    /// starts a creation.
    #[inline]
    pub(crate) fn claim(&self, slot: u32, me: impl FnOnce() -> Owner) -> ScopedClaim {
        let mut inner = self.lock();
        if inner.disposed {
            return ScopedClaim::Disposed;
        }
        match inner.slots.get(slot) {
            Some(Scoped::Ready(v)) => ScopedClaim::Ready(v.clone()),
            Some(Scoped::Creating(owner)) => ScopedClaim::Busy(*owner),
            None => {
                inner.slots.insert(slot, Scoped::Creating(me()));
                ScopedClaim::Mine
            }
        }
    }

    /// Registers a waiter for the creation of `slot` owned by `seen`; `None` if that changed
    /// (claim again instead).
    pub(crate) fn listen(&self, slot: u32, seen: Owner) -> Option<ScopeListener<'_>> {
        let mut inner = self.lock();
        if inner.disposed || inner.slots.owner(slot) != seen {
            return None;
        }
        inner.waiters += 1;
        Some(ScopeListener { scope: self, listener: Some(self.changed.listen()) })
    }

    /// Ends a creation of `slot`: keeps the instance and its hooks, unless the scope was disposed
    /// meanwhile (then they come back as [`Late`]).
    #[inline]
    pub(crate) fn finish(&self, slot: u32, value: Instance, disposer: Option<Disposer>) -> Result<(), Late> {
        let mut inner = self.lock();
        let notify = inner.waiters > 0;
        if inner.disposed {
            inner.slots.remove(slot);
            drop(inner);
            drop(value); // outside the lock: dropping a service may run user code
            self.notify(notify);
            return Err(Late(disposer));
        }
        inner.slots.set(slot, Scoped::Ready(value));
        if let Some(disposer) = disposer {
            inner.disposers.push(disposer);
        }
        drop(inner);
        self.notify(notify);
        Ok(())
    }

    /// Ends a creation of `slot` that produced nothing: frees the slot for a retry.
    #[cold]
    pub(crate) fn release(&self, slot: u32) {
        let notify = {
            let mut inner = self.lock();
            inner.slots.remove(slot);
            inner.waiters > 0
        };
        self.notify(notify);
    }

    #[inline]
    fn notify(&self, notify: bool) {
        if notify {
            self.changed.notify(usize::MAX);
        }
    }

    /// Records a created instance's hooks (a singleton's on the root, a transient's on its
    /// scope). If disposal has begun, hands them back to run at once.
    #[inline]
    pub(crate) fn track(&self, disposer: Option<Disposer>) -> Result<(), Late> {
        if disposer.is_none() {
            // Nothing to hand over (the common case): only whether disposal has begun matters,
            // and the flag says so without the lock.
            return if self.is_disposed() { Err(Late(None)) } else { Ok(()) };
        }
        self.track_hooks(disposer)
    }

    fn track_hooks(&self, disposer: Option<Disposer>) -> Result<(), Late> {
        let mut inner = self.lock();
        if inner.disposed {
            return Err(Late(disposer));
        }
        inner.disposers.extend(disposer);
        Ok(())
    }

    /// Marks the scope disposed (no creation starts after this) and takes its cached services,
    /// to drop once the hooks ran; `idle` when there is nothing else to do (no hook left, none
    /// running, none interrupted): the common end of a unit of work, in one critical section.
    #[inline(always)]
    fn begin_dispose(&self) -> (ScopedSlots, bool) {
        let mut inner = self.lock();
        if !inner.disposed {
            inner.disposed = true;
            self.disposed.store(true, Ordering::SeqCst);
        }
        let idle = inner.disposers.is_empty() && inner.in_flight == 0 && inner.interrupted.is_empty();
        (std::mem::take(&mut inner.slots), idle)
    }

    /// The next hook to run, newest first, counted as in flight.
    fn next_hook(&self) -> Option<Disposer> {
        let mut inner = self.lock();
        let hook = inner.disposers.pop()?;
        inner.in_flight += 1;
        Some(hook)
    }

    fn take_interrupted(&self) -> Vec<DisposeFailure> {
        let mut inner = self.lock();
        inner.interrupted.drain(..).map(|service| DisposeFailure::Interrupted { service }).collect()
    }

    /// Disposes synchronously: marks the scope disposed, runs every hook left (newest first,
    /// sync hooks only: async-only ones are reported) and reports hooks an earlier, cancelled
    /// `dispose()` left half-run.
    pub(crate) fn dispose_sync(&self) -> Result<(), DisposeError> {
        let (services, idle) = self.begin_dispose();
        if idle {
            drop(services); // outside the lock: dropping a service may run user code
            return Ok(());
        }
        self.run_hooks_sync(services)
    }

    /// The rest of [`dispose_sync`](Self::dispose_sync), when there are hooks: out of line.
    #[inline(never)]
    fn run_hooks_sync(&self, services: ScopedSlots) -> Result<(), DisposeError> {
        let mut failures = Vec::new();
        while let Some(hook) = self.next_hook() {
            let running = InFlight { scope: self, service: hook.service, finished: false };
            if let Err(f) = hook.run_sync() {
                failures.push(f);
            }
            running.finish();
        }
        drop(services);
        failures.extend(self.take_interrupted());
        DisposeError::from_failures(failures)
    }

    /// Disposes, awaiting async hooks (preferred over sync ones), newest first. Cancel-safe: if
    /// the future is dropped, the hooks not yet started stay for the next disposal, and the one
    /// that was running is reported by it as [`DisposeFailure::Interrupted`]. Returns once no
    /// hook of this scope is running, including hooks a concurrent `dispose()` runs.
    pub(crate) async fn dispose_async(&self) -> Result<(), DisposeError> {
        self.dispose_async_until(std::future::pending()).await
    }

    /// [`dispose_async`](Self::dispose_async), given up when `until` completes: the hook then
    /// running is abandoned and reported as [`DisposeFailure::Interrupted`], the hooks not
    /// started are dropped unrun and reported as [`DisposeFailure::NotRun`], by name.
    pub(crate) async fn dispose_async_until(&self, until: impl Future<Output = ()>) -> Result<(), DisposeError> {
        let (services, idle) = self.begin_dispose();
        if idle {
            drop(services);
            return Ok(());
        }
        let mut until = std::pin::pin!(until);
        let mut failures = Vec::new();
        let mut given_up = false;
        while let Some(hook) = self.next_hook() {
            let running = InFlight { scope: self, service: hook.service, finished: false };
            match select(std::pin::pin!(hook.run_async()), until.as_mut()).await {
                Either::Left((result, _)) => {
                    failures.extend(result.err());
                    running.finish();
                }
                // The running hook is dropped: `running` records it as interrupted.
                Either::Right(((), _)) => {
                    given_up = true;
                    break;
                }
            }
        }
        drop(services);
        if given_up {
            failures.extend(self.take_unrun());
        } else {
            while let Some(mut waiting) = self.listen_in_flight() {
                if let Either::Right(((), _)) = select(waiting.take(), until.as_mut()).await {
                    break;
                }
            }
        }
        failures.extend(self.take_interrupted());
        DisposeError::from_failures(failures)
    }

    /// Drops the hooks not started yet, reporting each.
    fn take_unrun(&self) -> Vec<DisposeFailure> {
        let unrun = std::mem::take(&mut self.lock().disposers);
        unrun.into_iter().rev().map(|hook| DisposeFailure::NotRun { service: hook.service }).collect()
    }

    fn listen_in_flight(&self) -> Option<ScopeListener<'_>> {
        let mut inner = self.lock();
        if inner.in_flight == 0 {
            return None;
        }
        inner.waiters += 1;
        Some(ScopeListener { scope: self, listener: Some(self.changed.listen()) })
    }

    /// The disposal dropping an owner does: it cannot await, so async-only hooks (and hooks a
    /// cancelled `dispose()` left half-run) are reported through `tracing` instead of blocking.
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

/// A hook taken by a disposal. Dropped unfinished (the `dispose()` future was dropped), it is
/// recorded as interrupted.
struct InFlight<'s> {
    scope: &'s ScopeState,
    service: &'static str,
    finished: bool,
}

impl InFlight<'_> {
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let notify = {
            let mut inner = self.scope.lock();
            inner.in_flight -= 1;
            if !self.finished {
                inner.interrupted.push(self.service);
            }
            inner.waiters > 0
        };
        if notify {
            self.scope.changed.notify(usize::MAX);
        }
    }
}

/// A registered waiter on a scope; uncounts itself when dropped.
pub(crate) struct ScopeListener<'s> {
    scope: &'s ScopeState,
    listener: Option<EventListener>,
}

impl ScopeListener<'_> {
    pub(crate) fn take(&mut self) -> EventListener {
        self.listener.take().expect("a listener is taken once")
    }
}

impl Drop for ScopeListener<'_> {
    fn drop(&mut self) {
        self.scope.lock().waiters -= 1;
    }
}

/// A scope: scoped services resolved through it are created once and live until it ends.
///
/// Resolve through its [`provider`](Self::provider), which resolves everything the root does.
/// The scope ends when you call [`dispose`](Self::dispose) (awaiting async hooks) or drop it:
/// the hooks of the instances it created run in reverse creation order, exactly once. Dropping
/// cannot await, so async-only hooks are then skipped and reported through `tracing` as a
/// warning; call `dispose().await` when a scope holds async resources.
///
/// The `Scope` owns its scope; the handles its provider gives out (`Arc<ServiceProvider>`
/// resolved from it) do not (see [`ServiceProvider`] for the rule). Scopes are flat: a scope
/// created from a scope is another child of the root, and ending one never affects the other.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::ServiceCollection;
///
/// struct UnitOfWork;
/// let mut services = ServiceCollection::new();
/// services.add_scoped::<UnitOfWork>(|_| Ok(Arc::new(UnitOfWork)));
/// let provider = services.build()?;
///
/// let first = provider.create_scope()?;
/// let second = provider.create_scope()?;
/// let a = first.provider().get::<UnitOfWork>()?;
/// assert!(Arc::ptr_eq(&a, &first.provider().get::<UnitOfWork>()?));
/// assert!(!Arc::ptr_eq(&a, &second.provider().get::<UnitOfWork>()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a scope ends, and disposes what it created, as soon as it is dropped"]
#[derive(Debug)]
pub struct Scope {
    provider: ServiceProvider,
}

impl Scope {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { provider: ServiceProvider::owner(core, Arc::new(ScopeState::new(false))) }
    }

    /// The scope's provider: resolve through it. To keep a handle past this borrow (one that
    /// does not keep the scope alive), resolve `Arc<ServiceProvider>` from it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{ServiceCollection, ServiceProvider};
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<u8>(|_| Ok(Arc::new(1u8)));
    /// let provider = services.build()?;
    /// let scope = provider.create_scope()?;
    /// assert_eq!(*scope.provider().get::<u8>()?, 1);
    /// let handle: Arc<ServiceProvider> = scope.provider().get()?;
    /// drop(scope);
    /// assert!(handle.get::<u8>().unwrap_err().is_disposed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provider(&self) -> &ServiceProvider {
        &self.provider
    }

    /// Ends the scope, awaiting every hook (async ones preferred) in reverse creation order.
    /// A second call runs whatever an earlier, cancelled call left, and otherwise does nothing.
    ///
    /// # Errors
    ///
    /// [`DisposeError`] listing every hook that failed, panicked, or was interrupted by a
    /// cancelled earlier call; the others still ran.
    ///
    /// # Examples
    ///
    /// ```
    /// # let provider = di_core::ServiceCollection::new().build()?;
    /// let scope = provider.create_scope()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// # rt.block_on(async move {
    /// scope.dispose().await?;
    /// # Ok::<(), di_core::DisposeError>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn dispose(&self) -> Result<(), DisposeError> {
        self.provider.dispose().await
    }
}

/// Creates scopes; the same instance is resolved everywhere (root and scopes) as
/// `Arc<ScopeFactory>`. It does not keep the provider alive: once the root is gone or disposed,
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
/// assert!(Arc::ptr_eq(&factory, &scope.provider().get::<ScopeFactory>()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ScopeFactory {
    core: std::sync::Weak<Core>,
}

impl ScopeFactory {
    pub(crate) fn new(core: std::sync::Weak<Core>) -> Self {
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
            None => Err(ResolveError::Disposed { service: "di_core::Scope", scope: crate::error::DisposedScope::Root }),
        }
    }
}
