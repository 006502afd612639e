//! The protocol behind the status board's states: one atomic kind per slot, and the data some
//! kinds carry, behind one lock.
//!
//! - A kind without data is set with one atomic store or read-modify-write, without the lock
//!   ([`Kinds::set`], [`Kinds::set_if`]): the host sets two per service and phase.
//! - A kind with data is stored under the lock, after its data ([`Kinds::set_with`]).
//! - Kinds are read only under the lock ([`Locked::kind`]), so a kind with data is read with the
//!   data stored with it: that data's writer stored the kind before unlocking, and any later
//!   writer of data must wait for the reader to unlock.
//!
//! Dependency-free and generic over the data, so `di-hosting/loom` model-checks this very file
//! (included with `#[path]`) with loom's primitives in place of std's (`--cfg loom`).

use std::ops::{Deref, DerefMut};
use std::sync::{OnceLock, PoisonError};

use self::sync::{AtomicU8, Mutex, MutexGuard, Ordering};

/// std's primitives, or loom's under `--cfg loom`. Nothing here is `SeqCst`, so loom's caveat
/// about `SeqCst` and initial values (`di-core/src/sync.rs`) does not apply; another of its
/// limitations does, which `loom_atomic` works around.
mod sync {
    #[cfg(loom)]
    pub(super) use self::loom_atomic::AtomicU8;
    #[cfg(loom)]
    pub(super) use loom::sync::atomic::Ordering;
    #[cfg(loom)]
    pub(super) use loom::sync::{Mutex, MutexGuard};
    #[cfg(not(loom))]
    pub(super) use std::sync::atomic::{AtomicU8, Ordering};
    #[cfg(not(loom))]
    pub(super) use std::sync::{Mutex, MutexGuard};

    /// Loom's `AtomicU8`, with `store` done as a `swap` whose result is dropped.
    ///
    /// Loom lets a plain store on one thread fall between the read and the write of a
    /// read-modify-write on another (tokio-rs/loom#254 and #389; the fix, #391, is unmerged):
    /// it reports executions where [`set_if`](super::Kinds::set_if) reads `Running`, a
    /// `Failed` is stored meanwhile, and `set_if`'s `Stopped` still lands last, which no real
    /// read-modify-write allows. A dropped `swap` with the store's ordering allows the same
    /// modification orders as the store, and loom orders it correctly against other
    /// read-modify-writes. It also extends release sequences, which nothing here relies on (the
    /// data is behind the lock). A `set_if` split into a load and a store still fails the models.
    #[cfg(loom)]
    mod loom_atomic {
        use loom::sync::atomic::Ordering;

        #[derive(Debug)]
        pub(crate) struct AtomicU8(loom::sync::atomic::AtomicU8);

        impl AtomicU8 {
            pub(crate) fn new(value: u8) -> Self {
                Self(loom::sync::atomic::AtomicU8::new(value))
            }

            pub(crate) fn store(&self, value: u8, order: Ordering) {
                self.0.swap(value, order);
            }
        }

        impl std::ops::Deref for AtomicU8 {
            type Target = loom::sync::atomic::AtomicU8;

            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }
    }
}

/// One kind (a `u8`) per slot, and the data of type `T` behind the lock. Which kinds carry
/// data is the caller's rule: those are set only with [`set_with`](Self::set_with).
#[derive(Debug, Default)]
pub(crate) struct Kinds<T> {
    locked: Mutex<T>,
    /// Created once, under the lock, by [`Locked::init`]; until then every slot is missing and
    /// setting one does nothing. std's `OnceLock` under loom too (loom has none): models create
    /// the slots before they share the board.
    kinds: OnceLock<Box<[AtomicU8]>>,
}

impl<T> Kinds<T> {
    /// Locks the data: the only way to read kinds.
    pub(crate) fn lock(&self) -> Locked<'_, T> {
        // A panic elsewhere must not make the status unreadable.
        Locked { data: self.locked.lock().unwrap_or_else(PoisonError::into_inner), kinds: &self.kinds }
    }

    fn slot(&self, slot: usize) -> Option<&AtomicU8> {
        self.kinds.get().and_then(|kinds| kinds.get(slot))
    }

    /// Sets `slot` to `to`, a kind without data.
    pub(crate) fn set(&self, slot: usize, to: u8) {
        if let Some(kind) = self.slot(slot) {
            kind.store(to, Ordering::Release);
        }
    }

    /// Sets `slot` to `to`, a kind without data, if its current kind passes `current`; one
    /// read-modify-write, so a kind stored meanwhile is checked, never overwritten unseen.
    /// Returns whether it did.
    pub(crate) fn set_if(&self, slot: usize, current: impl Fn(u8) -> bool, to: u8) -> bool {
        self.slot(slot).is_some_and(|kind| {
            kind.fetch_update(Ordering::AcqRel, Ordering::Acquire, |k| current(k).then_some(to)).is_ok()
        })
    }

    /// Sets `slot` to `to` with its data: under the lock, `write` writes the data, then `to` is
    /// stored, unless `write` returns `false` (it found nowhere to write). Does nothing for a
    /// missing slot. Returns whether it stored `to`.
    pub(crate) fn set_with(&self, slot: usize, to: u8, write: impl FnOnce(&mut T) -> bool) -> bool {
        let Some(kind) = self.slot(slot) else { return false };
        let mut locked = self.lock();
        let written = write(&mut locked.data);
        if written {
            // Still under the lock: a reader that sees `to` sees its data.
            kind.store(to, Ordering::Release);
        }
        written
    }
}

/// The data of a [`Kinds`], locked; reads the kinds, each with the data stored with it.
#[derive(Debug)]
pub(crate) struct Locked<'a, T> {
    data: MutexGuard<'a, T>,
    kinds: &'a OnceLock<Box<[AtomicU8]>>,
}

impl<T> Locked<'_, T> {
    /// Creates `len` slots, each of kind `kind`, unless they exist; returns how many there are.
    pub(crate) fn init(&self, len: usize, kind: u8) -> usize {
        self.kinds.get_or_init(|| (0..len).map(|_| AtomicU8::new(kind)).collect()).len()
    }

    /// The kind of `slot`, if it exists.
    pub(crate) fn kind(&self, slot: usize) -> Option<u8> {
        Some(self.kinds.get()?.get(slot)?.load(Ordering::Acquire))
    }
}

impl<T> Deref for Locked<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T> DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}
