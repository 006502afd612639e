//! Exactly-once creation for singletons and scoped services, without a container-wide lock.
//!
//! Each singleton registration has a [`Cell`] in the provider's slot table. A cached resolve is
//! one atomic load of the cell's `OnceLock`. The first resolve claims the cell with a
//! compare-and-swap on its `owner` (the id of the resolution creating it), runs the factory with
//! no lock held, stores the value and wakes the waiters. Scoped services live in their scope's
//! slot table ([`ScopedSlots`]), claimed the same way under that scope's own lock. If a factory
//! fails, panics or is cancelled, the claim is released and the next resolve tries again:
//! nothing is left half-initialised.
//!
//! Only a resolution that must wait takes the provider's [`Inits`] lock, for a few map
//! operations (never while user code runs): it records which cell it waits for and follows
//! owner -> awaited cell -> owner ... to see whether the chain comes back to itself. That is how
//! two threads resolving `A -> B` and `B -> A` at once fail with a cycle instead of hanging.
//!
//! A factory may also resolve through a handle that does not carry its resolution chain (a
//! clone of its provider, or the `Arc<ServiceProvider>` it resolved). Such a resolve starts a new
//! chain, so the owners alone would show it waiting for its own caller, and it would hang.
//! [`Running`] records which resolutions have a factory running (or being polled) on the current
//! thread: waiting on one of those from this thread can never end, so it is a cycle too.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use event_listener::{Event, EventListener, Listener};
use rustc_hash::FxHashMap;

use crate::descriptor::Instance;
use crate::provider::Core;
use crate::scope::ScopeState;

/// No resolution owns the cell. Resolution ids start at 1.
const FREE: u64 = 0;

/// A singleton's cell.
#[derive(Default)]
pub(crate) struct Cell {
    value: OnceLock<Instance>,
    owner: AtomicU64,
    done: Event,
}

impl Cell {
    #[inline]
    pub(crate) fn get(&self) -> Option<&Instance> {
        self.value.get()
    }

    pub(crate) fn filled(instance: Instance) -> Self {
        let cell = Self::default();
        let _ = cell.value.set(instance);
        cell
    }
}

/// One scoped registration's state within a scope.
enum Scoped {
    /// The resolution with this id is running the factory.
    Creating(u64),
    Ready(Instance),
}

/// A scope's scoped services, by slot. Most scopes resolve a handful of scoped services: the
/// first [`INLINE`] live inline and are found by a scan; a scope that resolves more keeps the rest
/// in a hash map. A lookup is bounded either way, and an empty scope allocates nothing.
#[derive(Default)]
pub(crate) struct ScopedSlots {
    inline: [Option<(u32, Scoped)>; INLINE],
    spilled: Option<Box<FxHashMap<u32, Scoped>>>,
}

const INLINE: usize = 2;

impl ScopedSlots {
    #[inline]
    fn get(&self, slot: u32) -> Option<&Scoped> {
        self.inline
            .iter()
            .flatten()
            .find(|(s, _)| *s == slot)
            .map(|(_, entry)| entry)
            .or_else(|| self.spilled.as_ref()?.get(&slot))
    }

    #[inline]
    pub(crate) fn set_ready(&mut self, slot: u32, value: Instance) {
        self.set(slot, Scoped::Ready(value));
    }

    #[inline]
    fn set(&mut self, slot: u32, entry: Scoped) {
        if let Some((_, e)) = self.inline.iter_mut().flatten().find(|(s, _)| *s == slot) {
            *e = entry;
            return;
        }
        if let Some(map) = self.spilled.as_mut().filter(|m| m.contains_key(&slot)) {
            map.insert(slot, entry);
            return;
        }
        match self.inline.iter_mut().find(|e| e.is_none()) {
            Some(free) => *free = Some((slot, entry)),
            None => {
                self.spilled.get_or_insert_default().insert(slot, entry);
            }
        }
    }

    pub(crate) fn remove(&mut self, slot: u32) {
        if let Some(e) = self.inline.iter_mut().find(|e| matches!(e, Some((s, _)) if *s == slot)) {
            *e = None;
        } else if let Some(map) = self.spilled.as_mut() {
            map.remove(&slot);
        }
    }

    fn owner(&self, slot: u32) -> u64 {
        match self.get(slot) {
            Some(Scoped::Creating(owner)) => *owner,
            _ => FREE,
        }
    }
}

/// What a waiting resolution waits for, kept so others can read that cell's current owner.
enum WaitTarget {
    Singleton(u32),
    Scoped(u32, Arc<ScopeState>),
}

impl WaitTarget {
    fn owner(&self, core: &Core) -> u64 {
        match self {
            Self::Singleton(s) if core.per_key.is_virtual(*s) => core.per_key.cell(*s).owner.load(Ordering::Acquire),
            Self::Singleton(s) => core.singletons[*s as usize].owner.load(Ordering::Acquire),
            Self::Scoped(s, scope) => scope.with_slots(|slots| slots.owner(*s)),
        }
    }

    fn slot(&self) -> u32 {
        match self {
            Self::Singleton(s) | Self::Scoped(s, _) => *s,
        }
    }
}

thread_local! {
    /// The resolutions whose factory is running, or whose async factory is being polled, on
    /// this thread: innermost last.
    static RUNNING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Marks a resolution's factory as running on this thread until dropped. Hold it exactly while
/// user code of that factory runs on this thread: the sync call, or one poll of the future.
pub(crate) struct Running(());

impl Running {
    pub(crate) fn enter(chain: u64) -> Self {
        RUNNING.with(|r| r.borrow_mut().push(chain));
        Self(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|r| r.borrow_mut().pop());
    }
}

/// Whether `other` is `chain` or has a factory running on this thread: either way, `other`
/// cannot make progress while this thread waits.
fn is_ours(chain: u64, other: u64) -> bool {
    other == chain || RUNNING.with(|r| r.borrow().contains(&other))
}

/// Every resolution the current thread is part of: `chain` and those running here.
fn ours(chain: u64) -> Vec<u64> {
    let mut chains = RUNNING.with(|r| r.borrow().clone());
    if !chains.contains(&chain) {
        chains.push(chain);
    }
    chains
}

/// The wait graph: resolution id -> the cell it waits for.
pub(crate) struct Inits(Mutex<FxHashMap<u64, WaitTarget>>);

impl Default for Inits {
    fn default() -> Self {
        Self(Mutex::new(FxHashMap::default()))
    }
}

/// An instance handed back by a claim: borrowed from a singleton cell, or cloned out of a
/// scope's slot table (whose lock is not held past the claim).
pub(crate) enum Got<'a> {
    Borrowed(&'a Instance),
    Owned(Instance),
}

impl Got<'_> {
    pub(crate) fn get(&self) -> &Instance {
        match self {
            Self::Borrowed(i) => i,
            Self::Owned(i) => i,
        }
    }
}

/// What a resolution should do next with a cell.
pub(crate) enum Claim<'a> {
    Ready(Got<'a>),
    /// This resolution owns the cell: run the factory, then [`InitGuard::complete`].
    Create(InitGuard<'a>),
    /// Another resolution is creating it: wait, then try again.
    Wait(WaitGuard<'a>),
    /// Waiting would deadlock: the owner is (transitively) waiting for a cell this resolution
    /// holds, in the slot given.
    Deadlock {
        held_slot: u32,
    },
}

impl Inits {
    fn lock(&self) -> MutexGuard<'_, FxHashMap<u64, WaitTarget>> {
        // Nothing user-supplied runs under this lock, so a poisoned map is still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims a singleton's cell.
    pub(crate) fn claim<'a>(&'a self, core: &Core, slot: u32, c: &'a Cell, chain: u64) -> Claim<'a> {
        loop {
            if let Some(v) = c.get() {
                return Claim::Ready(Got::Borrowed(v));
            }
            let Err(owner) = c.owner.compare_exchange(FREE, chain, Ordering::AcqRel, Ordering::Acquire) else {
                let guard = InitGuard { kind: GuardKind::Cell(c), done: false };
                // A creation may have completed between our check and the claim.
                if let Some(v) = c.get() {
                    return Claim::Ready(Got::Borrowed(v)); // dropping the guard releases the claim
                }
                return Claim::Create(guard);
            };
            if is_ours(chain, owner) {
                return Claim::Deadlock { held_slot: slot };
            }
            // Listen first, then re-check, so a release between the two cannot be missed.
            let listener = c.done.listen();
            if c.get().is_some() || c.owner.load(Ordering::Acquire) != owner {
                continue;
            }
            return self.wait(core, owner, chain, &WaitTarget::Singleton(slot), listener);
        }
    }

    /// Claims a scoped service's entry in `scope`.
    #[inline]
    pub(crate) fn claim_scoped<'a>(
        &'a self,
        core: &Core,
        scope: &'a Arc<ScopeState>,
        slot: u32,
        chain: u64,
    ) -> Claim<'a> {
        loop {
            let state = scope.with_slots(|slots| match slots.get(slot) {
                Some(Scoped::Ready(v)) => Err(v.clone()),
                Some(Scoped::Creating(owner)) => Ok(*owner),
                None => {
                    slots.set(slot, Scoped::Creating(chain));
                    Ok(FREE)
                }
            });
            let owner = match state {
                Err(ready) => return Claim::Ready(Got::Owned(ready)),
                Ok(FREE) => return Claim::Create(InitGuard { kind: GuardKind::Scoped(scope, slot), done: false }),
                Ok(owner) => owner,
            };
            if is_ours(chain, owner) {
                return Claim::Deadlock { held_slot: slot };
            }
            let listener = scope.changed().listen();
            if scope.with_slots(|slots| slots.owner(slot)) != owner {
                continue;
            }
            return self.wait(core, owner, chain, &WaitTarget::Scoped(slot, scope.clone()), listener);
        }
    }

    /// Records the wait unless it would deadlock: follows owner -> awaited cell -> owner ...
    fn wait<'a>(
        &'a self,
        core: &Core,
        owner: u64,
        chain: u64,
        target: &WaitTarget,
        listener: EventListener,
    ) -> Claim<'a> {
        let mut waits = self.lock();
        let mut current = owner;
        for _ in 0..=waits.len() {
            let Some(awaited) = waits.get(&current) else { break };
            match awaited.owner(core) {
                next if is_ours(chain, next) => return Claim::Deadlock { held_slot: awaited.slot() },
                FREE => break,
                next => current = next,
            }
        }
        // Every resolution running on this thread waits with us: none can go on until we do.
        let mut chains = ours(chain);
        chains.retain(|&c| match waits.entry(c) {
            Entry::Vacant(v) => {
                v.insert(match target {
                    WaitTarget::Singleton(s) => WaitTarget::Singleton(*s),
                    WaitTarget::Scoped(s, scope) => WaitTarget::Scoped(*s, scope.clone()),
                });
                true
            }
            Entry::Occupied(_) => false,
        });
        Claim::Wait(WaitGuard { inits: self, chains, listener: Some(listener) })
    }
}

enum GuardKind<'a> {
    Cell(&'a Cell),
    Scoped(&'a ScopeState, u32),
}

/// Ownership of a cell being created. Dropping it without `complete` (error, panic, a dropped
/// future) releases the cell so the next resolve tries again.
pub(crate) struct InitGuard<'a> {
    kind: GuardKind<'a>,
    done: bool,
}

impl InitGuard<'_> {
    #[inline]
    pub(crate) fn complete(mut self, value: Instance) {
        self.done = true;
        match self.kind {
            GuardKind::Cell(c) => {
                let _ = c.value.set(value);
                c.owner.store(FREE, Ordering::Release);
                c.done.notify(usize::MAX);
            }
            GuardKind::Scoped(scope, slot) => scope.finish(slot, Some(value)),
        }
    }
}

impl Drop for InitGuard<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        match self.kind {
            GuardKind::Cell(c) => {
                c.owner.store(FREE, Ordering::Release);
                c.done.notify(usize::MAX);
            }
            GuardKind::Scoped(scope, slot) => scope.finish(slot, None),
        }
    }
}

/// A registered wait; removes itself from the wait graph when dropped.
pub(crate) struct WaitGuard<'a> {
    inits: &'a Inits,
    /// The wait-graph entries this wait added.
    chains: Vec<u64>,
    listener: Option<EventListener>,
}

impl WaitGuard<'_> {
    pub(crate) fn wait_blocking(mut self) {
        if let Some(l) = self.listener.take() {
            l.wait();
        }
    }

    pub(crate) async fn wait_async(mut self) {
        if let Some(l) = self.listener.take() {
            l.await;
        }
    }
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut waits = self.inits.lock();
        for c in &self.chains {
            waits.remove(c);
        }
    }
}
