//! Exactly-once creation of a singleton, without a container-wide lock.
//!
//! A cell is free, owned by one creation, or filled. A cached resolve is one acquire load of the
//! `OnceLock`. The first resolve claims the cell with a compare-and-swap of its owner word (the
//! creation's id, and whether it runs an async factory), runs the factory with no lock held,
//! stores the value, frees the cell and wakes the waiters. A creation that fails, panics or is
//! dropped frees the cell in its guard's `Drop`, so the next resolve tries again.
//!
//! Waking costs nothing when nobody waits: a waiter registers its listener, then counts itself
//! in `waiters`, then re-checks the owner; the creator frees the cell, then notifies only if it
//! sees a waiter. Both sides use `SeqCst`, so either the creator sees the waiter (and notifies a
//! listener that is already registered) or the waiter sees the cell freed (and retries): no
//! wake-up is lost (checked by loom in `di-core/loom`).

use std::sync::OnceLock;

use event_listener::{Event, EventListener};

use super::chain::Creation;
use crate::descriptor::Instance;
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// Who owns a cell: a creation, and whether it runs an async factory (a sync resolve must not
/// wait for that one: it would block a thread on a future it cannot drive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner(u64);

impl Owner {
    pub(crate) const FREE: Self = Self(0);

    pub(crate) fn new(creation: Creation, is_async: bool) -> Self {
        debug_assert!(creation != 0 && creation < 1 << 63);
        Self(creation << 1 | u64::from(is_async))
    }

    pub(crate) fn creation(self) -> Creation {
        self.0 >> 1
    }

    pub(crate) fn is_async(self) -> bool {
        self.0 & 1 == 1
    }
}

/// One singleton's cell.
#[derive(Default)]
pub(crate) struct OnceCell {
    value: OnceLock<Instance>,
    owner: AtomicU64,
    waiters: AtomicU32,
    done: Event,
}

impl std::fmt::Debug for OnceCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnceCell").field("filled", &self.value.get().is_some()).finish_non_exhaustive()
    }
}

/// The outcome of trying to claim a cell.
pub(crate) enum Claim<'c> {
    Ready(&'c Instance),
    /// This creation owns the cell: run the factory, then [`CellGuard::complete`].
    Mine(CellGuard<'c>),
    /// Another creation owns it.
    Busy(Owner),
}

impl OnceCell {
    pub(crate) fn filled(instance: Instance) -> Self {
        let cell = Self::default();
        let _ = cell.value.set(instance);
        cell
    }

    #[inline]
    pub(crate) fn get(&self) -> Option<&Instance> {
        self.value.get()
    }

    pub(crate) fn claim(&self, me: Owner) -> Claim<'_> {
        if let Some(v) = self.value.get() {
            return Claim::Ready(v);
        }
        match self.owner.compare_exchange(Owner::FREE.0, me.0, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => {
                let guard = CellGuard { cell: self, done: false };
                // A creation may have completed between the check and the claim.
                match self.value.get() {
                    Some(v) => Claim::Ready(v), // dropping the guard frees the cell again
                    None => Claim::Mine(guard),
                }
            }
            Err(owner) => Claim::Busy(Owner(owner)),
        }
    }

    /// Registers a waiter for the creation owned by `seen`; `None` if the cell changed meanwhile
    /// (claim again instead of waiting).
    pub(crate) fn listen(&self, seen: Owner) -> Option<CellListener<'_>> {
        let listener = self.done.listen();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let waiting = CellListener { cell: self, listener: Some(listener) };
        if self.owner.load(Ordering::SeqCst) != seen.0 || self.value.get().is_some() {
            return None; // dropping `waiting` uncounts it
        }
        Some(waiting)
    }

    fn release(&self) {
        self.owner.store(Owner::FREE.0, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.done.notify(usize::MAX);
        }
    }
}

/// Ownership of a cell being created. Dropping it without `complete` (an error, a panic, a
/// dropped future, a disposed container) frees the cell for the next resolve.
pub(crate) struct CellGuard<'c> {
    cell: &'c OnceCell,
    done: bool,
}

impl CellGuard<'_> {
    pub(crate) fn complete(mut self, value: Instance) {
        self.done = true;
        let _ = self.cell.value.set(value);
        self.cell.release();
    }
}

impl Drop for CellGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.cell.release();
        }
    }
}

/// A registered waiter; uncounts itself when dropped.
pub(crate) struct CellListener<'c> {
    cell: &'c OnceCell,
    listener: Option<EventListener>,
}

impl CellListener<'_> {
    pub(crate) fn take(&mut self) -> EventListener {
        self.listener.take().expect("a listener is taken once")
    }
}

impl Drop for CellListener<'_> {
    fn drop(&mut self) {
        self.cell.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}
