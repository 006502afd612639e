//! Resolution: one path for sync and async lookups.
//!
//! [`ServiceProvider::begin`] does everything both share: validation of lifetimes, cycle
//! detection, and claiming the cell. Only running the factory and waiting for another
//! resolution differ, and those are the two small drivers below.

pub(crate) mod cell;
pub(crate) mod chain;
pub(crate) mod per_key;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use futures_util::FutureExt;

use self::cell::{Cell, Claim, Got, InitGuard, Running, WaitGuard};
use self::chain::Chain;
use crate::descriptor::{Descriptor, Factory, Instance, SyncFactory};
use crate::dispose::Disposer;
use crate::error::{ResolutionPath, ResolveError, panic_message};
use crate::lifetime::Lifetime;
use crate::provider::{Core, CoreRef, ServiceProvider};
use crate::scope::ScopeState;

/// What to do next for one slot.
enum Step<'a> {
    /// Already created: the caller clones only the typed `Arc` out of it.
    Ready(Got<'a>),
    /// Run the factory; its instance belongs to `owner` (for disposal); `guard` is the claimed
    /// cell, absent for transients.
    Create {
        owner: &'a Arc<ScopeState>,
        guard: Option<(InitGuard<'a>, u64)>,
    },
    Wait(WaitGuard<'a>),
}

/// Where a resolve goes: the registration (`slot`); the id its instance is cached, tracked
/// and chained under (`id`: the slot itself, or the virtual slot of an `AnyKey` registration
/// serving one key); and the singleton cell of that id.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) slot: u32,
    pub(crate) id: u32,
    pub(crate) cell: &'a Cell,
}

impl<'a> Target<'a> {
    #[inline]
    pub(crate) fn slot(core: &'a Core, slot: u32) -> Self {
        Self { slot, id: slot, cell: &core.singletons[slot as usize] }
    }
}

impl ServiceProvider {
    /// Resolves a slot and hands the instance to `map` (typically a typed downcast and clone)
    /// by reference, so a resolve costs one reference-count increment, not three.
    #[inline]
    pub(crate) fn resolve_slot<R>(
        &self,
        core: &Arc<Core>,
        slot: u32,
        map: impl FnOnce(&Instance) -> R,
    ) -> Result<R, ResolveError> {
        self.resolve_at(core, Target::slot(core, slot), map)
    }

    /// [`resolve_slot`](Self::resolve_slot) for any target.
    pub(crate) fn resolve_at<R>(
        &self,
        core: &Arc<Core>,
        t: Target<'_>,
        map: impl FnOnce(&Instance) -> R,
    ) -> Result<R, ResolveError> {
        loop {
            match self.begin(core, t)? {
                Step::Ready(v) => return Ok(map(v.get())),
                Step::Wait(w) => w.wait_blocking(),
                Step::Create { owner, guard } => {
                    let chain_id = guard.as_ref().map(|(_, id)| *id);
                    let instance = self.create_sync(core, t, owner, chain_id)?;
                    let mapped = map(&instance);
                    if let Some((g, _)) = guard {
                        g.complete(instance);
                    }
                    return Ok(mapped);
                }
            }
        }
    }

    /// [`resolve_slot`](Self::resolve_slot), awaiting async factories and other tasks' creations.
    pub(crate) async fn resolve_slot_async<R>(
        &self,
        core: &Arc<Core>,
        slot: u32,
        map: impl FnOnce(&Instance) -> R,
    ) -> Result<R, ResolveError> {
        self.resolve_at_async(core, Target::slot(core, slot), map).await
    }

    /// [`resolve_slot_async`](Self::resolve_slot_async) for any target.
    pub(crate) async fn resolve_at_async<R>(
        &self,
        core: &Arc<Core>,
        t: Target<'_>,
        map: impl FnOnce(&Instance) -> R,
    ) -> Result<R, ResolveError> {
        loop {
            match self.begin(core, t)? {
                Step::Ready(v) => return Ok(map(v.get())),
                Step::Wait(w) => w.wait_async().await,
                Step::Create { owner, guard } => {
                    let chain_id = guard.as_ref().map(|(_, id)| *id);
                    let instance = self.create_async(core, t, owner, chain_id).await?;
                    let mapped = map(&instance);
                    if let Some((g, _)) = guard {
                        g.complete(instance);
                    }
                    return Ok(mapped);
                }
            }
        }
    }

    /// Everything sync and async resolution share, up to running the factory.
    #[inline]
    fn begin<'a>(&'a self, core: &'a Core, t: Target<'a>) -> Result<Step<'a>, ResolveError> {
        let d = &core.descriptors[t.slot as usize];
        match d.lifetime {
            Lifetime::Transient => {
                self.check_cycle(t.id, d)?;
                Ok(Step::Create { owner: &self.scope, guard: None })
            }
            Lifetime::Singleton => {
                let cell = t.cell;
                if let Some(v) = cell.get() {
                    return Ok(Step::Ready(Got::Borrowed(v)));
                }
                self.check_cycle(t.id, d)?;
                let chain_id = self.resolution_id();
                self.step(core, core.inits.claim(core, t.id, cell, chain_id), chain_id, d, &core.root)
            }
            Lifetime::Scoped => {
                if core.options.validates_scopes() {
                    if let Some(singleton) = self.chain.as_ref().and_then(|c| c.nearest_singleton()) {
                        return Err(ResolveError::CapturedScoped { singleton, scoped: d.name, path: self.path() });
                    }
                    if self.scope.is_root {
                        return Err(ResolveError::ScopedFromRoot { service: d.name, path: self.path() });
                    }
                }
                self.check_cycle(t.id, d)?;
                let chain_id = self.resolution_id();
                let claim = core.inits.claim_scoped(core, &self.scope, t.id, chain_id);
                self.step(core, claim, chain_id, d, &self.scope)
            }
        }
    }

    /// The id of this resolution: the chain's, or a fresh one for a top-level lookup.
    #[inline]
    fn resolution_id(&self) -> u64 {
        self.chain.as_ref().map_or_else(chain::next_resolution_id, |c| c.id)
    }

    /// Turns a claim into the next step.
    #[inline]
    fn step<'a>(
        &self,
        core: &Core,
        claim: Claim<'a>,
        chain_id: u64,
        d: &Descriptor,
        owner: &'a Arc<ScopeState>,
    ) -> Result<Step<'a>, ResolveError> {
        match claim {
            Claim::Ready(v) => Ok(Step::Ready(v)),
            Claim::Create(g) => Ok(Step::Create { owner, guard: Some((g, chain_id)) }),
            Claim::Wait(w) => Ok(Step::Wait(w)),
            Claim::Deadlock { held_slot } => {
                let mut path = self.path().services().to_vec();
                path.push(d.name);
                path.push(core.descriptors[core.per_key.real_slot(held_slot) as usize].name);
                Err(ResolveError::Cycle { service: d.name, path: ResolutionPath::new(path) })
            }
        }
    }

    #[inline]
    fn check_cycle(&self, slot: u32, d: &Descriptor) -> Result<(), ResolveError> {
        match &self.chain {
            Some(chain) if chain.contains(slot) => {
                let mut path = chain.path();
                path.push(d.name);
                Err(ResolveError::Cycle { service: d.name, path: ResolutionPath::new(path) })
            }
            _ => Ok(()),
        }
    }

    /// The handle a factory receives: the owner's scope, the core, and the chain extended with
    /// the registration being created. A sync factory only borrows its handle, so it holds the
    /// core strongly (nested resolves take the fast path) and `Clone` turns a copy kept by the
    /// factory into a weak handle; an async factory owns its handle, so that one is weak.
    #[inline]
    fn child(
        &self,
        core: &Arc<Core>,
        slot: u32,
        d: &Descriptor,
        owner: &Arc<ScopeState>,
        chain_id: Option<u64>,
        borrowed: bool,
    ) -> Self {
        let id = chain_id.or_else(|| self.chain.as_ref().map(|c| c.id)).unwrap_or_else(chain::next_resolution_id);
        Self {
            core: if borrowed { CoreRef::Strong(core.clone()) } else { CoreRef::Weak(Arc::downgrade(core)) },
            scope: owner.clone(),
            chain: Some(Chain {
                id,
                slot,
                service: d.name,
                lifetime: d.lifetime,
                parent: self.chain.as_ref().map(|c| Arc::new(c.clone())),
            }),
        }
    }

    /// The id of the resolution this handle belongs to; handles given to factories always have one.
    fn chain_id(&self) -> u64 {
        self.chain.as_ref().map_or(u64::MAX, |c| c.id)
    }

    /// Instances that need no factory call, or `None` for a user factory.
    fn builtin(&self, core: &Arc<Core>, d: &Descriptor) -> Option<Instance> {
        match &d.factory {
            Factory::Instance(i) => Some(i.clone()),
            Factory::Provider => {
                let handle = Self { core: CoreRef::Weak(Arc::downgrade(core)), scope: self.scope.clone(), chain: None };
                Some(Arc::new(Arc::new(handle)) as Instance)
            }
            Factory::Scopes => Some(Arc::new(core.scope_factory.clone()) as Instance),
            Factory::Sync(_) | Factory::Async(_) => None,
        }
    }

    #[inline]
    fn create_sync(
        &self,
        core: &Arc<Core>,
        t: Target<'_>,
        owner: &Arc<ScopeState>,
        chain_id: Option<u64>,
    ) -> Result<Instance, ResolveError> {
        let d = &core.descriptors[t.slot as usize];
        if let Some(i) = self.builtin(core, d) {
            return Ok(i);
        }
        let Factory::Sync(factory) = &d.factory else {
            return Err(ResolveError::AsyncFactory { service: d.name, path: self.path() });
        };
        let child = self.child(core, t.id, d, owner, chain_id, true);
        let result = call_sync(factory, &child);
        let instance = self.factory_outcome(d, result)?;
        if let Err(late) = Self::track(d, owner, &instance) {
            return Err(owner.created_too_late(d.name, late.run_sync()));
        }
        Ok(instance)
    }

    async fn create_async(
        &self,
        core: &Arc<Core>,
        t: Target<'_>,
        owner: &Arc<ScopeState>,
        chain_id: Option<u64>,
    ) -> Result<Instance, ResolveError> {
        let d = &core.descriptors[t.slot as usize];
        if let Some(i) = self.builtin(core, d) {
            return Ok(i);
        }
        let borrowed = !d.factory.is_async();
        let child = self.child(core, t.id, d, owner, chain_id, borrowed);
        let running = child.chain_id();
        let result = match &d.factory {
            Factory::Async(factory) => match catch_unwind(AssertUnwindSafe(|| {
                let _running = Running::enter(running);
                factory(child)
            })) {
                Ok(fut) => AssertUnwindSafe(polled_as_running(running, fut)).catch_unwind().await,
                Err(p) => Err(p),
            },
            Factory::Sync(factory) => {
                // Declared dependencies with async factories are created first, so the sync
                // factory's `get` finds them cached instead of failing.
                for dep in &d.dependencies {
                    child.prefetch_async(core, dep).await?;
                }
                call_sync(factory, &child)
            }
            _ => unreachable!("built-ins handled above"),
        };
        let instance = self.factory_outcome(d, result)?;
        if let Err(late) = Self::track(d, owner, &instance) {
            return Err(owner.created_too_late(d.name, late.run_async().await));
        }
        Ok(instance)
    }

    /// Resolves a declared dependency through the async path when it (the registration a
    /// single `get` would use) has an async factory and is cached (singleton or scoped).
    async fn prefetch_async(&self, core: &Arc<Core>, dep: &crate::descriptor::Dependency) -> Result<(), ResolveError> {
        let Some((slot, per_key)) = core.slot_of(dep) else { return Ok(()) };
        let target = &core.descriptors[slot as usize];
        if target.factory.is_async() && target.lifetime != Lifetime::Transient {
            let t = match &per_key {
                None => Target::slot(core, slot),
                Some((id, cell)) => Target { slot, id: *id, cell },
            };
            Box::pin(self.resolve_at_async(core, t, |_| ())).await?;
        }
        Ok(())
    }

    #[inline]
    fn factory_outcome(
        &self,
        d: &Descriptor,
        result: std::thread::Result<anyhow::Result<Instance>>,
    ) -> Result<Instance, ResolveError> {
        match result {
            Ok(Ok(instance)) => Ok(instance),
            // A nested resolve failed: it already names the service and the path; pass it on as is.
            Ok(Err(e)) => match e.downcast::<ResolveError>() {
                Ok(nested) => Err(nested),
                Err(e) => Err(ResolveError::Factory { service: d.name, path: self.path(), source: e.into() }),
            },
            Err(p) => {
                Err(ResolveError::FactoryPanicked { service: d.name, message: panic_message(&*p), path: self.path() })
            }
        }
    }

    /// Hands the instance's hooks to the scope that owns it. Transients resolved from the root
    /// are not tracked: the root lives as long as the application, so tracking them would grow
    /// without bound. Their clean-up is their `Drop`.
    ///
    /// An instance created after its owner began disposal comes back as `Err` with its hooks.
    #[inline]
    fn track(d: &Descriptor, owner: &ScopeState, instance: &Instance) -> Result<(), Disposer> {
        if d.lifetime == Lifetime::Transient && owner.is_root {
            return Ok(());
        }
        match d.disposer_for(instance) {
            Some(disposer) => owner.track(disposer),
            None => Ok(()),
        }
    }
}

/// Polls `fut` with the resolution `chain` marked as running on the polling thread, so that a
/// resolve inside it that would wait for `chain` itself fails instead of never waking.
async fn polled_as_running<F: Future>(chain: u64, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let _running = Running::enter(chain);
        fut.as_mut().poll(cx)
    })
    .await
}

/// Runs a sync factory with its resolution marked as running on this thread, catching a panic.
fn call_sync(factory: &SyncFactory, child: &ServiceProvider) -> std::thread::Result<anyhow::Result<Instance>> {
    catch_unwind(AssertUnwindSafe(|| {
        let _running = Running::enter(child.chain_id());
        factory(child)
    }))
}
