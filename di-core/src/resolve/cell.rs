//! Exactly-once creation for singletons and scoped services, without a container-wide lock.
//!
//! Each singleton registration (and each scoped registration, per scope) has a [`Cell`]. A
//! cached resolve is one atomic load of the cell's `OnceLock`. The first resolve claims the cell
//! in the provider's [`InitTable`], runs the factory with no lock held, stores the value and
//! wakes the waiters. If the factory fails, panics or is cancelled, the claim is dropped and the
//! next resolve tries again: nothing is left half-initialised.
//!
//! The `InitTable` lock is held only for a few map operations, never while user code runs. It
//! also records which resolution waits for which cell, so that two threads resolving `A -> B`
//! and `B -> A` at once find the deadlock and fail with a cycle instead of hanging.

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use event_listener::{Event, EventListener, Listener};
use rustc_hash::FxHashMap;

use crate::descriptor::Instance;

#[derive(Default)]
pub(crate) struct Cell {
    pub(crate) value: OnceLock<Instance>,
    done: Event,
}

impl Cell {
    pub(crate) fn get(&self) -> Option<&Instance> {
        self.value.get()
    }

    pub(crate) fn filled(instance: Instance) -> Self {
        let cell = Self::default();
        let _ = cell.value.set(instance);
        cell
    }
}

/// Identifies a cell: the scope it lives in (the root for singletons) and its registration slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CellKey {
    pub(crate) scope: u64,
    pub(crate) slot: u32,
}

/// Who is creating which cell, and which resolution waits for which cell.
#[derive(Default)]
pub(crate) struct InitTable {
    owners: FxHashMap<CellKey, u64>,
    waits: FxHashMap<u64, CellKey>,
}

pub(crate) struct Inits(Mutex<InitTable>);

impl Default for Inits {
    fn default() -> Self {
        Self(Mutex::new(InitTable::default()))
    }
}

/// What a resolution should do next with a cell.
pub(crate) enum Claim<'a> {
    Ready(Instance),
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
    fn lock(&self) -> MutexGuard<'_, InitTable> {
        // Nothing user-supplied runs under this lock, so a poisoned table is still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn claim<'a>(&'a self, cell: &'a Cell, key: CellKey, chain: u64) -> Claim<'a> {
        let mut table = self.lock();
        if let Some(v) = cell.get() {
            return Claim::Ready(v.clone());
        }
        let Some(&owner) = table.owners.get(&key) else {
            table.owners.insert(key, chain);
            return Claim::Create(InitGuard { inits: self, cell, key, done: false });
        };
        if owner == chain {
            return Claim::Deadlock { held_slot: key.slot };
        }
        // Follow owner -> the cell it waits for -> that cell's owner ... back to us?
        let mut current = owner;
        for _ in 0..=table.waits.len() {
            let Some(waited) = table.waits.get(&current) else { break };
            match table.owners.get(waited) {
                Some(&next) if next == chain => return Claim::Deadlock { held_slot: waited.slot },
                Some(&next) => current = next,
                None => break,
            }
        }
        // Listen before releasing the lock so the owner's notification cannot be missed.
        let listener = cell.done.listen();
        table.waits.insert(chain, key);
        Claim::Wait(WaitGuard { inits: self, chain, listener: Some(listener) })
    }
}

/// Ownership of a cell being created. Dropping it without `complete` (error, panic, a dropped
/// future) releases the cell so the next resolve tries again.
pub(crate) struct InitGuard<'a> {
    inits: &'a Inits,
    cell: &'a Cell,
    key: CellKey,
    done: bool,
}

impl InitGuard<'_> {
    pub(crate) fn complete(mut self, value: Instance) {
        let _ = self.cell.value.set(value);
        self.done = true;
        self.release();
    }

    fn release(&self) {
        self.inits.lock().owners.remove(&self.key);
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
    chain: u64,
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
        self.inits.lock().waits.remove(&self.chain);
    }
}
