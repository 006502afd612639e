//! Exactly-once creation for singletons and scoped services, without a container-wide lock.
//!
//! Each singleton registration (and each scoped registration, per scope) has a [`Cell`]. A
//! cached resolve is one atomic load of the cell's `OnceLock`. The first resolve claims the cell
//! with a compare-and-swap on its `owner` (the id of the resolution creating it), runs the
//! factory with no lock held, stores the value and wakes the waiters. If the factory fails,
//! panics or is cancelled, the claim is released and the next resolve tries again: nothing is
//! left half-initialised.
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

/// No resolution owns the cell. Resolution ids start at 1.
const FREE: u64 = 0;

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

/// A cell being claimed: a singleton cell (in the provider's slot table) or a scoped one.
#[derive(Clone, Copy)]
pub(crate) enum CellRef<'a> {
    Singleton(u32, &'a Cell),
    Scoped(u32, &'a Arc<Cell>),
}

impl<'a> CellRef<'a> {
    fn cell(self) -> &'a Cell {
        match self {
            Self::Singleton(_, c) => c,
            Self::Scoped(_, c) => c,
        }
    }

    fn slot(&self) -> u32 {
        match self {
            Self::Singleton(s, _) | Self::Scoped(s, _) => *s,
        }
    }

    fn target(&self) -> WaitTarget {
        match self {
            Self::Singleton(s, _) => WaitTarget::Singleton(*s),
            Self::Scoped(s, c) => WaitTarget::Scoped(*s, Arc::clone(c)),
        }
    }
}

/// What a waiting resolution waits for, kept so others can read that cell's current owner.
enum WaitTarget {
    Singleton(u32),
    Scoped(u32, Arc<Cell>),
}

impl WaitTarget {
    fn owner(&self, singletons: &[Cell]) -> u64 {
        match self {
            Self::Singleton(s) => singletons[*s as usize].owner.load(Ordering::Acquire),
            Self::Scoped(_, c) => c.owner.load(Ordering::Acquire),
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

/// What a resolution should do next with a cell.
pub(crate) enum Claim<'a> {
    Ready(&'a Instance),
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

    pub(crate) fn claim<'a>(&'a self, singletons: &[Cell], cell: CellRef<'a>, chain: u64) -> Claim<'a> {
        let c = cell.cell();
        loop {
            if let Some(v) = c.get() {
                return Claim::Ready(v);
            }
            let Err(owner) = c.owner.compare_exchange(FREE, chain, Ordering::AcqRel, Ordering::Acquire) else {
                let guard = InitGuard { cell: c, done: false };
                // A creation may have completed between our check and the claim.
                if let Some(v) = c.get() {
                    return Claim::Ready(v); // dropping the guard releases the claim
                }
                return Claim::Create(guard);
            };
            if is_ours(chain, owner) {
                return Claim::Deadlock { held_slot: cell.slot() };
            }
            // Listen first, then re-check, so a release between the two cannot be missed.
            let listener = c.done.listen();
            if c.get().is_some() || c.owner.load(Ordering::Acquire) != owner {
                continue;
            }
            let mut waits = self.lock();
            let mut current = owner;
            for _ in 0..=waits.len() {
                let Some(target) = waits.get(&current) else { break };
                match target.owner(singletons) {
                    next if is_ours(chain, next) => return Claim::Deadlock { held_slot: target.slot() },
                    FREE => break,
                    next => current = next,
                }
            }
            // Every resolution running on this thread waits with us: none can go on until we do.
            let mut chains = ours(chain);
            chains.retain(|&c| match waits.entry(c) {
                Entry::Vacant(v) => {
                    v.insert(cell.target());
                    true
                }
                Entry::Occupied(_) => false,
            });
            return Claim::Wait(WaitGuard { inits: self, chains, listener: Some(listener) });
        }
    }
}

/// Ownership of a cell being created. Dropping it without `complete` (error, panic, a dropped
/// future) releases the cell so the next resolve tries again.
pub(crate) struct InitGuard<'a> {
    cell: &'a Cell,
    done: bool,
}

impl InitGuard<'_> {
    pub(crate) fn complete(mut self, value: Instance) {
        let _ = self.cell.value.set(value);
        self.done = true;
        self.release();
    }

    fn release(&self) {
        self.cell.owner.store(FREE, Ordering::Release);
        self.cell.done.notify(usize::MAX);
    }
}

impl Drop for InitGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.release();
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
