//! Exactly-once creation of a singleton, without a container-wide lock.
//!
//! A cell is free, owned by one creation, or filled, and one word says which: `owner` holds
//! `FREE`, the owning creation's id (and whether it runs an async factory), or `FILLED`. A
//! cached resolve is one acquire load of that word. The first resolve claims the cell with a
//! compare-and-swap of it, runs the factory with no lock held, writes the value, then stores
//! `FILLED` and wakes the waiters. `FILLED` is never left, so the value is written once, before
//! it is published, and only read after. A creation that fails, panics or is dropped stores
//! `FREE` again in its guard's `Drop`, so the next resolve tries again. (A `OnceLock` for the
//! value would synchronise a second time, on its own `Once`, what the claim already makes
//! exclusive: two more atomic read-modify-writes and a call per creation.)
//!
//! Waking costs nothing when nobody waits: a waiter registers its listener, then counts itself
//! in `waiters`, then re-checks the owner; the creator changes the owner, then notifies only if
//! it sees a waiter. Both sides use `SeqCst`, so either the creator sees the waiter (and
//! notifies a listener that is already registered) or the waiter sees the owner changed (and
//! retries): no wake-up is lost. Loom checks both the handshake and the value's publication (it
//! sees the value's cell as a `loom::cell::UnsafeCell`) in `di-core/loom`.
//!
//! An alias (`also_as`) creates nothing: its target does. Its cell only keeps the target's
//! singleton, cast, once that exists ([`OnceCell::cache`]), so a cached resolve of the alias is
//! the same one load as a resolve of the target. It goes `FREE`, `CACHING`, `FILLED`; no creation
//! claims it and nobody waits on it.

// The value's cell is written by the claim's owner and read once `FILLED` is seen.
#![allow(unsafe_code, reason = "a value published by the claim protocol; every block states why it is sound")]

use std::mem::MaybeUninit;

use event_listener::{Event, EventListener};

use super::chain::Creation;
use crate::descriptor::Instance;
use crate::sync::{AtomicU32, AtomicU64, Ordering, UnsafeCell};

/// Who owns a cell: a creation, and whether it runs an async factory (a sync resolve must not
/// wait for that one: it would block a thread on a future it cannot drive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner(u64);

impl Owner {
    pub(crate) const FREE: Self = Self(0);
    /// Not an owner: the cell is filled (no creation id reaches it, see `new`).
    const FILLED: u64 = u64::MAX;
    /// Not an owner either: an alias's cell being filled by [`OnceCell::cache`].
    const CACHING: u64 = u64::MAX - 1;

    pub(crate) fn new(creation: Creation, is_async: bool) -> Self {
        // The largest owner is then `u64::MAX - 2`: below `CACHING` and `FILLED`.
        debug_assert!(creation != 0 && creation < (1 << 63) - 1);
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
pub(crate) struct OnceCell {
    /// `FREE`, an [`Owner`], or `FILLED` (then `value` is initialised, and never written again).
    owner: AtomicU64,
    value: UnsafeCell<MaybeUninit<Instance>>,
    waiters: AtomicU32,
    done: Event,
}

// SAFETY: `value` is written only by the creation that owns the claim (one at a time: the
// compare-and-swap of `owner` from `FREE` makes it exclusive) and before `FILLED` is stored with
// `SeqCst`; it is read only after `FILLED` is loaded with (at least) `Acquire`, and `FILLED` is
// final, so no read overlaps a write. An `Instance` is `Send` and `Sync`.
unsafe impl Sync for OnceCell {}
// SAFETY: as for `Sync`: the cell owns an `Instance`, which is `Send`.
unsafe impl Send for OnceCell {}

impl Default for OnceCell {
    fn default() -> Self {
        Self {
            owner: AtomicU64::new(Owner::FREE.0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            waiters: AtomicU32::new(0),
            done: Event::new(),
        }
    }
}

impl Drop for OnceCell {
    fn drop(&mut self) {
        if self.owner.load(Ordering::Acquire) == Owner::FILLED {
            // SAFETY: `FILLED` means the value was written, and `&mut self` means nobody reads it.
            self.value.with_mut(|value| unsafe { (*value).assume_init_drop() });
        }
    }
}

impl std::fmt::Debug for OnceCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnceCell").field("filled", &self.get().is_some()).finish_non_exhaustive()
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
        cell.value.with_mut(|value| {
            // SAFETY: the cell is not shared yet.
            unsafe { (*value).write(instance) };
        });
        cell.owner.store(Owner::FILLED, Ordering::SeqCst);
        cell
    }

    #[inline]
    pub(crate) fn get(&self) -> Option<&Instance> {
        if self.owner.load(Ordering::Acquire) == Owner::FILLED { Some(self.filled_value()) } else { None }
    }

    /// The value, once `FILLED` was loaded with (at least) `Acquire`.
    #[inline(always)]
    fn filled_value(&self) -> &Instance {
        // SAFETY: the caller saw `FILLED`: the value was written before it was published, and is
        // never written again; it lives as long as the cell.
        self.value.with(|value| unsafe { (*value).assume_init_ref() })
    }

    /// Claims the cell for the creation `me` (the caller found it unfilled a moment ago).
    pub(crate) fn claim(&self, me: Owner) -> Claim<'_> {
        match self.owner.compare_exchange(Owner::FREE.0, me.0, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => Claim::Mine(CellGuard { cell: self, done: false }),
            Err(Owner::FILLED) => Claim::Ready(self.filled_value()),
            Err(owner) => Claim::Busy(Owner(owner)),
        }
    }

    /// Keeps `instance` in a cell that no creation claims (an alias's: its value is its target's
    /// instance, cast), unless another resolve is keeping or has kept one. Nobody waits on such
    /// a cell, so the value is published by a release store, with no waiter to wake.
    pub(crate) fn cache(&self, instance: Instance) {
        if self.owner.compare_exchange(Owner::FREE.0, Owner::CACHING, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            self.value.with_mut(|slot| {
                // SAFETY: the compare-and-swap from `FREE` made this call the only writer, and
                // nobody reads the value before `FILLED` is stored below.
                unsafe { (*slot).write(instance) };
            });
            self.owner.store(Owner::FILLED, Ordering::Release);
        }
    }

    /// Registers a waiter for the creation owned by `seen`; `None` if the cell changed meanwhile
    /// (claim again instead of waiting).
    pub(crate) fn listen(&self, seen: Owner) -> Option<CellListener<'_>> {
        let listener = self.done.listen();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let waiting = CellListener { cell: self, listener: Some(listener) };
        if self.owner.load(Ordering::SeqCst) != seen.0 {
            return None; // dropping `waiting` uncounts it
        }
        Some(waiting)
    }

    /// Ends the owner's claim: `FILLED` once the value is written, or `FREE` for a retry.
    fn release(&self, to: u64) {
        self.owner.store(to, Ordering::SeqCst);
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
        self.cell.value.with_mut(|slot| {
            // SAFETY: this guard owns the claim, so nobody else writes the value, and nobody
            // reads it before `FILLED` is stored below.
            unsafe { (*slot).write(value) };
        });
        self.cell.release(Owner::FILLED);
    }
}

impl Drop for CellGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.cell.release(Owner::FREE.0);
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
