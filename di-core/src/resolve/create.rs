//! Creating a service: claiming its cell or scoped slot, running the factory, waiting for
//! another creation. The sync and async drivers mirror each other step for step.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use event_listener::{EventListener, Listener};
use futures_util::FutureExt;

use super::chain::{Chain, Creation, Link, Node};
use super::context::Resolver;
use super::occupancy::{self, Busy};
use super::once::{CellListener, Claim, OnceCell, Owner};
use super::per_key::VirtualSlot;
use super::source::{Source, downcast_owned};
use super::waits::WaitTicket;
use crate::descriptor::{Alias, Dependency, Descriptor, Factory, Instance};
use crate::error::{BoxError, ResolutionPath, ResolveError, panic_message};
use crate::key::ServiceKey;
use crate::lifetime::Lifetime;
use crate::provider::ServiceProvider;
use crate::registry::{Core, Unkeyed};
use crate::scope::{Late, ScopeListener, ScopeState, ScopedClaim};

/// Where a resolve goes: the registration (`slot`); the id its instance is cached and chained
/// under (`id`: the slot itself, or the virtual slot of an `AnyKey` registration serving one
/// key); that id's singleton cell; and the key being served, for an `AnyKey` registration.
#[derive(Clone, Copy)]
pub(crate) struct Target<'t> {
    slot: u32,
    id: u32,
    pub(crate) cell: &'t OnceCell,
    key: Option<&'t ServiceKey>,
}

impl<'t> Target<'t> {
    #[inline]
    pub(crate) fn slot(core: &'t Core, slot: u32) -> Self {
        Self { slot, id: slot, cell: core.cell(slot), key: None }
    }

    #[inline]
    pub(crate) fn unkeyed(u: &'t Unkeyed) -> Self {
        Self { slot: u.entry.last, id: u.entry.last, cell: &u.cell, key: None }
    }

    pub(crate) fn per_key(slot: u32, v: &'t VirtualSlot) -> Self {
        Self { slot, id: v.id, cell: &v.cell, key: Some(&v.key) }
    }
}

/// A registered waiter, on a singleton cell or a scope.
trait Waiting {
    fn take(&mut self) -> EventListener;
}

impl Waiting for CellListener<'_> {
    fn take(&mut self) -> EventListener {
        CellListener::take(self)
    }
}

impl Waiting for ScopeListener<'_> {
    fn take(&mut self) -> EventListener {
        ScopeListener::take(self)
    }
}

/// A scoped slot this creation claimed; freed for a retry if dropped without `complete`.
struct ScopedGuard<'s> {
    scope: &'s ScopeState,
    id: u32,
    done: bool,
}

/// The hooks of a created instance. `as_any` is an indirect call: only made when there are
/// hooks to build.
#[inline]
fn disposer(d: &Descriptor, instance: &Instance) -> Option<crate::dispose::Disposer> {
    if d.has_hooks() { d.disposer_for(instance.as_any()) } else { None }
}

impl ScopedGuard<'_> {
    fn complete(mut self, instance: Instance, d: &Descriptor) -> Result<(), Late> {
        self.done = true;
        let disposer = disposer(d, &instance);
        self.scope.finish(self.id, instance, disposer)
    }
}

impl Drop for ScopedGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.scope.release(self.id);
        }
    }
}

impl<'s, 'c> Source<'s, 'c> {
    fn node(&self, t: Target<'_>, d: &Descriptor, creation: Creation) -> Node {
        // The key an `AnyKey` registration serves; a keyed registration's own key is read from
        // its descriptor by a sync factory's resolver (`Resolver::key`), so it is not cloned here.
        Node { id: t.id, service: d.name, lifetime: d.lifetime, creation, key: t.key.cloned() }
    }

    #[inline]
    fn check_cycle(&self, id: u32, d: &Descriptor) -> Result<(), ResolveError> {
        if !matches!(self.chain, Chain::Empty) && self.chain.contains(id) {
            let mut path = self.chain.path();
            path.push(d.name);
            return Err(ResolveError::Cycle { service: d.name, path: ResolutionPath::new(path) });
        }
        Ok(())
    }

    #[inline]
    fn check_scoped(&self, d: &Descriptor) -> Result<(), ResolveError> {
        if self.core.options.validates_scopes() {
            if !matches!(self.chain, Chain::Empty)
                && let Some(singleton) = self.chain.nearest_singleton()
            {
                return Err(ResolveError::CapturedScoped { singleton, scoped: d.name, path: self.path() });
            }
            if self.scope.is_root {
                return Err(ResolveError::ScopedFromRoot { service: d.name, path: self.path() });
            }
        }
        Ok(())
    }

    fn async_factory(&self, d: &Descriptor) -> ResolveError {
        ResolveError::AsyncFactory { service: d.name, path: self.path() }
    }

    /// Records a wait for `owner`'s creation, unless it would deadlock. The waiter is every
    /// creation on the chain, and every creation running on this thread (see [`occupancy`]).
    fn register_wait(&self, owner: Owner, d: &Descriptor) -> Result<WaitTicket<'s>, ResolveError> {
        let mut known: Vec<(Creation, &'static str)> = self.chain.creations().collect();
        for busy in occupancy::current() {
            if !known.iter().any(|k| k.0 == busy.0) {
                known.push(busy);
            }
        }
        let ids = known.iter().map(|k| k.0).collect();
        self.core.waits.register(ids, owner.creation()).map_err(|deadlock| {
            let held = known.iter().find(|k| k.0 == deadlock.reached).map_or(d.name, |k| k.1);
            let mut path = self.chain.path();
            path.push(d.name);
            path.push(held);
            ResolveError::Cycle { service: d.name, path: ResolutionPath::new(path) }
        })
    }

    fn wait_blocking<W: Waiting>(&self, owner: Owner, d: &Descriptor, waiting: Option<W>) -> Result<(), ResolveError> {
        let Some(mut waiting) = waiting else { return Ok(()) };
        let _ticket = self.register_wait(owner, d)?;
        waiting.take().wait();
        Ok(())
    }

    async fn wait_async<W: Waiting>(
        &self,
        owner: Owner,
        d: &Descriptor,
        waiting: Option<W>,
    ) -> Result<(), ResolveError> {
        let Some(mut waiting) = waiting else { return Ok(()) };
        let _ticket = self.register_wait(owner, d)?;
        waiting.take().await;
        Ok(())
    }

    /// Turns a factory's outcome into the resolve's.
    fn outcome<R>(&self, d: &Descriptor, result: std::thread::Result<Result<R, BoxError>>) -> Result<R, ResolveError> {
        match result {
            Ok(Ok(value)) => Ok(value),
            // A nested resolve failed: it already names the service and the path; pass it on as is.
            Ok(Err(e)) => match e.downcast::<ResolveError>() {
                Ok(nested) => Err(*nested),
                // Kept whole: the caller can downcast it to the factory's own error type.
                Err(source) => Err(ResolveError::Factory { service: d.name, path: self.path(), source }),
            },
            Err(p) => {
                Err(ResolveError::FactoryPanicked { service: d.name, message: panic_message(&*p), path: self.path() })
            }
        }
    }

    /// Instances that need no factory call, or `None` for a user factory.
    fn builtin(&self, d: &Descriptor, owner: &Arc<ScopeState>) -> Option<Instance> {
        match &d.factory {
            Factory::Instance(i) => Some(i.clone()),
            Factory::Provider => Some(Instance::new(Arc::new(ServiceProvider::handle_of(self.core, owner)))),
            Factory::Scopes => Some(Instance::new(self.core.scope_factory.clone())),
            Factory::Sync(_) | Factory::Async(_) | Factory::Alias(_) => None,
        }
    }

    /// Runs a sync factory for a creation that `owner` (the root or a scope) will keep.
    fn create_sync(
        &self,
        t: Target<'_>,
        d: &Descriptor,
        creation: Creation,
        owner: &Arc<ScopeState>,
    ) -> Result<Instance, ResolveError> {
        // A user factory first: the built-ins are rare.
        let Factory::Sync(factory) = &d.factory else {
            return match self.builtin(d, owner) {
                Some(instance) => Ok(instance),
                None => Err(self.async_factory(d)),
            };
        };
        let link = Link { node: self.node(t, d, creation), parent: self.chain };
        let resolver = Resolver::borrowed(self.core, owner, &link);
        let result = {
            let _busy = Busy::enter(creation, d.name);
            catch_unwind(AssertUnwindSafe(|| (factory.erased)(&resolver)))
        };
        self.outcome(d, result)
    }

    /// Resolves an alias: its target, as if the caller had asked for the target itself (same
    /// chain, same scope, so cycles and captives read as the target's), then the cast. The alias
    /// has no creation of its own. Once its target is a created singleton, the alias's own cell
    /// (`own`) keeps the cast instance too, so the next resolve of the alias is one load: not
    /// at the creation itself, which would pay a reference count and two atomics more for a
    /// resolve that may never come.
    pub(super) fn alias<T: ?Sized + Send + Sync + 'static>(
        &self,
        d: &Descriptor,
        alias: &Alias,
        own: &OnceCell,
    ) -> Result<Arc<T>, ResolveError> {
        let target = self.alias_target(d, alias)?;
        match target.cell.get() {
            Some(instance) => {
                let cast: Arc<T> = alias.cast(instance.clone());
                own.cache(Instance::new(cast.clone()));
                Ok(cast)
            }
            None => Ok(alias.cast(self.resolve_erased(target)?)),
        }
    }

    #[cold]
    fn alias_missing(&self, d: &Descriptor, alias: &Alias) -> ResolveError {
        let mut path = self.chain.path();
        path.push(d.display_name());
        ResolveError::NotRegistered {
            service: alias.target.name,
            key: alias.target.key.as_ref().map(ServiceKey::label),
            path: ResolutionPath::new(path),
        }
    }

    #[inline]
    fn alias_target(&self, d: &Descriptor, alias: &Alias) -> Result<Target<'s>, ResolveError> {
        match alias.slot {
            Some(slot) => Ok(Target::slot(self.core, slot)),
            None => Err(self.alias_missing(d, alias)),
        }
    }

    /// Resolves a target without knowing its type: its instance, erased.
    fn resolve_erased(&self, t: Target<'_>) -> Result<Instance, ResolveError> {
        let d = &self.core.descriptors[t.slot as usize];
        match d.lifetime {
            Lifetime::Singleton => {
                self.check_cycle(t.id, d)?;
                self.singleton(t, d)
            }
            Lifetime::Scoped => {
                self.check_scoped(d)?;
                self.check_cycle(t.id, d)?;
                self.scoped(t, d)
            }
            Lifetime::Transient => {
                self.check_cycle(t.id, d)?;
                let instance = self.create_sync(t, d, 0, self.scope)?;
                if d.has_hooks() && !self.scope.is_root {
                    self.keep_sync(d, self.scope, instance.as_any())?;
                }
                Ok(instance)
            }
        }
    }

    /// Runs an async factory for a creation that `owner` will keep (or a transient).
    async fn create_async(
        &self,
        t: Target<'_>,
        d: &Descriptor,
        creation: Creation,
        owner: &Arc<ScopeState>,
    ) -> Result<Instance, ResolveError> {
        let Factory::Async(factory) = &d.factory else { return self.create_sync(t, d, creation, owner) };
        let mut node = self.node(t, d, creation);
        // An async factory's resolver has no registry to read the key from: it carries it.
        if node.key.is_none() {
            node.key = d.key.clone();
        }
        let (chain, _ends) = self.chain.push_shared(node);
        let resolver = Resolver::owned(self.core, owner, chain);
        let result = match catch_unwind(AssertUnwindSafe(|| {
            let _busy = Busy::enter(creation, d.name);
            factory(resolver)
        })) {
            Ok(future) => AssertUnwindSafe(polled_busy(creation, d.name, future)).catch_unwind().await,
            Err(panic) => Err(panic),
        };
        self.outcome(d, result)
    }

    /// Hands the hooks of an instance created in `owner` to it. An instance created after its
    /// owner began disposal comes back as `Err`: its hooks ran, and the resolve fails.
    fn keep_sync(&self, d: &Descriptor, owner: &ScopeState, instance: &dyn std::any::Any) -> Result<(), ResolveError> {
        match owner.track(d.disposer_for(instance)) {
            Ok(()) => Ok(()),
            Err(late) => Err(self.too_late_sync(d, owner, late)),
        }
    }

    fn too_late_sync(&self, d: &Descriptor, owner: &ScopeState, late: Late) -> ResolveError {
        if let Some(Err(failure)) = late.0.map(crate::dispose::Disposer::run_sync) {
            tracing::warn!(%failure, "instance created during disposal could not be disposed");
        }
        owner.disposed_error(d.name)
    }

    async fn too_late_async(&self, d: &Descriptor, owner: &ScopeState, late: Late) -> ResolveError {
        if let Some(disposer) = late.0
            && let Err(failure) = disposer.run_async().await
        {
            tracing::warn!(%failure, "instance created during disposal could not be disposed");
        }
        owner.disposed_error(d.name)
    }

    // ===== sync =====

    pub(crate) fn resolve_at<T: ?Sized + Send + Sync + 'static>(&self, t: Target<'_>) -> Result<Arc<T>, ResolveError> {
        let d = &self.core.descriptors[t.slot as usize];
        if let Factory::Alias(alias) = &d.factory {
            return self.alias(d, alias, t.cell);
        }
        if d.lifetime == Lifetime::Transient {
            // Typed, unlike the erased path: the caller gets the factory's own `Arc<T>`.
            self.check_cycle(t.id, d)?;
            return self.transient(t, d);
        }
        self.resolve_erased(t).map(downcast_owned)
    }

    /// Creates a transient: typed, so the caller gets the factory's own `Arc<T>`.
    fn transient<T: ?Sized + Send + Sync + 'static>(
        &self,
        t: Target<'_>,
        d: &Descriptor,
    ) -> Result<Arc<T>, ResolveError> {
        let Some(factory) = (match &d.factory {
            Factory::Sync(f) => f.typed::<T>(),
            _ => None,
        }) else {
            let instance = self.create_sync(t, d, 0, self.scope)?;
            return Ok(downcast_owned(instance));
        };
        let link = Link { node: self.node(t, d, 0), parent: self.chain };
        let resolver = Resolver::borrowed(self.core, self.scope, &link);
        let result = catch_unwind(AssertUnwindSafe(|| factory(&resolver)));
        let value = self.outcome(d, result)?;
        // Transients resolved from the root are not tracked: the root lives as long as the
        // application, so tracking them would grow without bound. Their clean-up is `Drop`.
        if d.has_hooks() && !self.scope.is_root {
            self.keep_sync(d, self.scope, &value)?;
        }
        Ok(value)
    }

    fn singleton(&self, t: Target<'_>, d: &Descriptor) -> Result<Instance, ResolveError> {
        let root = &self.core.root;
        let me = Owner::new(self.core.new_creation(), false);
        loop {
            match t.cell.claim(me) {
                Claim::Ready(instance) => return Ok(instance.clone()),
                Claim::Mine(guard) => {
                    // Claimed, then checked: disposal marks the root before taking its hooks, so
                    // a creation either started before disposal or sees it here.
                    if root.is_disposed() {
                        return Err(root.disposed_error(d.name));
                    }
                    let instance = self.create_sync(t, d, me.creation(), root)?;
                    if let Err(late) = root.track(disposer(d, &instance)) {
                        drop(guard);
                        return Err(self.too_late_sync(d, root, late));
                    }
                    guard.complete(instance.clone());
                    return Ok(instance);
                }
                Claim::Busy(owner) if owner.is_async() => return Err(self.async_factory(d)),
                Claim::Busy(owner) => self.wait_blocking(owner, d, t.cell.listen(owner))?,
            }
        }
    }

    fn scoped(&self, t: Target<'_>, d: &Descriptor) -> Result<Instance, ResolveError> {
        let scope = self.scope;
        let mut me = Owner::FREE;
        loop {
            match scope.claim(t.id, || me_or_new(&mut me, self.core, false)) {
                ScopedClaim::Disposed => return Err(scope.disposed_error(d.name)),
                ScopedClaim::Ready(instance) => return Ok(instance),
                ScopedClaim::Mine => {
                    let guard = ScopedGuard { scope, id: t.id, done: false };
                    let instance = self.create_sync(t, d, me.creation(), scope)?;
                    return match guard.complete(instance.clone(), d) {
                        Ok(()) => Ok(instance),
                        Err(late) => Err(self.too_late_sync(d, scope, late)),
                    };
                }
                ScopedClaim::Busy(owner) if owner.is_async() => return Err(self.async_factory(d)),
                ScopedClaim::Busy(owner) => self.wait_blocking(owner, d, scope.listen(t.id, owner))?,
            }
        }
    }

    // ===== async =====

    pub(crate) async fn resolve_at_async<T: ?Sized + Send + Sync + 'static>(
        &self,
        t: Target<'_>,
    ) -> Result<Arc<T>, ResolveError> {
        let d = &self.core.descriptors[t.slot as usize];
        if let Factory::Alias(alias) = &d.factory {
            let target = self.alias_target(d, alias)?;
            // Created already (then cached for the alias too), or created without an await.
            if target.cell.get().is_some() || !self.core.descriptors[target.slot as usize].factory.is_async() {
                return self.alias(d, alias, t.cell);
            }
            let instance = Box::pin(self.resolve_erased_async(target)).await?;
            return Ok(alias.cast(instance));
        }
        match d.lifetime {
            Lifetime::Transient => self.check_cycle(t.id, d)?,
            Lifetime::Singleton => self.check_cycle(t.id, d)?,
            Lifetime::Scoped => {
                self.check_scoped(d)?;
                self.check_cycle(t.id, d)?;
            }
        }
        if !d.factory.is_async() && !d.dependencies.is_empty() {
            // Created before the claim, so no claim is ever held across an await.
            self.prefetch(t, d).await?;
        }
        match d.lifetime {
            Lifetime::Transient if d.factory.is_async() => {
                let instance = self.create_async(t, d, 0, self.scope).await?;
                if d.has_hooks() && !self.scope.is_root {
                    self.keep_async(d, self.scope, instance.clone()).await?;
                }
                Ok(downcast_owned(instance))
            }
            Lifetime::Transient => self.transient(t, d),
            Lifetime::Singleton => self.singleton_async(t, d).await.map(downcast_owned),
            Lifetime::Scoped => self.scoped_async(t, d).await.map(downcast_owned),
        }
    }

    /// Creates the declared dependencies of a sync factory that have async factories (and are
    /// cached: singleton or scoped), so its plain `get` finds them.
    async fn prefetch(&self, t: Target<'_>, d: &Descriptor) -> Result<(), ResolveError> {
        let link = Link { node: self.node(t, d, 0), parent: self.chain };
        let chain = Chain::Stack(&link);
        let inner = Source { core: self.core, scope: self.scope, chain: &chain };
        for dep in &d.dependencies {
            inner.prefetch_one(dep).await?;
        }
        Ok(())
    }

    async fn prefetch_one(&self, dep: &Dependency) -> Result<(), ResolveError> {
        let Some((slot, per_key)) = self.core.slot_of(dep) else { return Ok(()) };
        let target = &self.core.descriptors[slot as usize];
        if target.factory.is_async() && target.lifetime != Lifetime::Transient {
            let t = match &per_key {
                None => Target::slot(self.core, slot),
                Some(v) => Target::per_key(slot, v),
            };
            Box::pin(self.resolve_erased_async(t)).await?;
        }
        Ok(())
    }

    /// Resolves a target without knowing its type (a prefetch, an alias's target): its
    /// instance, erased. The async twin of [`resolve_erased`](Self::resolve_erased).
    async fn resolve_erased_async(&self, t: Target<'_>) -> Result<Instance, ResolveError> {
        let d = &self.core.descriptors[t.slot as usize];
        match d.lifetime {
            Lifetime::Singleton => {
                self.check_cycle(t.id, d)?;
                self.singleton_async(t, d).await
            }
            Lifetime::Scoped => {
                self.check_scoped(d)?;
                self.check_cycle(t.id, d)?;
                self.scoped_async(t, d).await
            }
            Lifetime::Transient => {
                self.check_cycle(t.id, d)?;
                let instance = self.create_async(t, d, 0, self.scope).await?;
                if d.has_hooks() && !self.scope.is_root {
                    self.keep_async(d, self.scope, instance.clone()).await?;
                }
                Ok(instance)
            }
        }
    }

    async fn keep_async(&self, d: &Descriptor, owner: &ScopeState, instance: Instance) -> Result<(), ResolveError> {
        match owner.track(d.disposer_for(instance.as_any())) {
            Ok(()) => Ok(()),
            Err(late) => Err(self.too_late_async(d, owner, late).await),
        }
    }

    async fn singleton_async(&self, t: Target<'_>, d: &Descriptor) -> Result<Instance, ResolveError> {
        let root = &self.core.root;
        let me = Owner::new(self.core.new_creation(), d.factory.is_async());
        loop {
            match t.cell.claim(me) {
                Claim::Ready(instance) => return Ok(instance.clone()),
                Claim::Mine(guard) => {
                    if root.is_disposed() {
                        return Err(root.disposed_error(d.name));
                    }
                    let instance = self.create_async(t, d, me.creation(), root).await?;
                    if let Err(late) = root.track(disposer(d, &instance)) {
                        // Free the cell before awaiting the late hooks: never hold a claim
                        // across an await.
                        drop(guard);
                        return Err(self.too_late_async(d, root, late).await);
                    }
                    guard.complete(instance.clone());
                    return Ok(instance);
                }
                Claim::Busy(owner) => self.wait_async(owner, d, t.cell.listen(owner)).await?,
            }
        }
    }

    async fn scoped_async(&self, t: Target<'_>, d: &Descriptor) -> Result<Instance, ResolveError> {
        let scope = self.scope;
        let mut me = Owner::FREE;
        loop {
            match scope.claim(t.id, || me_or_new(&mut me, self.core, d.factory.is_async())) {
                ScopedClaim::Disposed => return Err(scope.disposed_error(d.name)),
                ScopedClaim::Ready(instance) => return Ok(instance),
                ScopedClaim::Mine => {
                    let guard = ScopedGuard { scope, id: t.id, done: false };
                    let instance = self.create_async(t, d, me.creation(), scope).await?;
                    return match guard.complete(instance.clone(), d) {
                        Ok(()) => Ok(instance),
                        Err(late) => Err(self.too_late_async(d, scope, late).await),
                    };
                }
                ScopedClaim::Busy(owner) => self.wait_async(owner, d, scope.listen(t.id, owner)).await?,
            }
        }
    }
}

/// This resolve's owner word, taking a creation id the first time it is needed.
#[inline]
fn me_or_new(me: &mut Owner, core: &Core, is_async: bool) -> Owner {
    if *me == Owner::FREE {
        *me = Owner::new(core.new_creation(), is_async);
    }
    *me
}

/// Polls an async factory's future with its creation marked busy on the polling thread, so a
/// resolve inside it through a plain handle is attributed to it (see [`occupancy`]).
async fn polled_busy<F: Future>(creation: Creation, service: &'static str, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        let _busy = Busy::enter(creation, service);
        future.as_mut().poll(cx)
    })
    .await
}
