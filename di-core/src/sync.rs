//! The synchronisation primitives the container's own protocols use: `std`'s atomics and
//! `parking_lot`'s `Mutex` normally, loom's when built with `--cfg loom`, so the model checker in `di-core/loom/` explores every
//! interleaving of the claim, wait/wake and disposal protocols (the tokio-util pattern).
//!
//! Everything the resolver synchronises on goes through this module, the singleton cell's
//! value included (an [`UnsafeCell`] loom tracks, so it checks the value's publication too).
//!
//! Under loom the atomics are wrapped (see `loom_atomic` below) so their initial value counts as a
//! `SeqCst` store: otherwise loom lets a `SeqCst` load read it past a newer `SeqCst` write, a
//! false lost wake-up in the waiter-counting handshake of `resolve/once.rs`.

#[cfg(loom)]
pub(crate) use self::loom_atomic::{AtomicBool, AtomicU32, AtomicU64};
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::Ordering;
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom::thread_local;

// `parking_lot`'s lock: no user code runs under the container's locks, so there is nothing for
// poisoning to protect, and its lock and unlock are one compare-and-swap each, inline.
#[cfg(not(loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::thread_local;

/// `std`'s `UnsafeCell` with loom's access API (`with`, `with_mut`), as in tokio.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer to the value, to read it.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer to the value, to write it.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `mutex`.
#[cfg(not(loom))]
#[inline]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock()
}

/// Locks `mutex`, ignoring poisoning: no user code runs under the container's locks, so the
/// data behind a poisoned one is still consistent.
#[cfg(loom)]
#[inline]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Loom's atomics, with the initial value stored again with `SeqCst` by the constructing thread.
///
/// Loom models `SeqCst` accesses only partly (its README: "regarded as `AcqRel`"): a `SeqCst`
/// load may not return a store older than a newer `SeqCst` one, but the value an atomic is
/// created with is recorded as a `Release` store, so a `SeqCst` load may still return it after a
/// `SeqCst` write. In `once.rs`, a waiter's `waiters.fetch_add` then `owner.load`, against the
/// creator's `owner.store(FREE)` then `waiters.load`, would then let both loads read old values,
/// which `SeqCst` forbids (a cycle in the single total order), and loom reports a deadlock that
/// cannot happen. Storing the same value again, before the atomic is shared, changes nothing in
/// the program and makes that store a `SeqCst` one; loom still reports the lost wake-up if the
/// handshake is weakened to `Release`/`Acquire`.
#[cfg(loom)]
mod loom_atomic {
    macro_rules! seq_cst_initialised {
        ($($name:ident($t:ty)),* $(,)?) => {$(
            #[derive(Debug)]
            pub(crate) struct $name(loom::sync::atomic::$name);

            impl $name {
                pub(crate) fn new(value: $t) -> Self {
                    let atomic = loom::sync::atomic::$name::new(value);
                    atomic.store(value, loom::sync::atomic::Ordering::SeqCst);
                    Self(atomic)
                }
            }

            impl Default for $name {
                fn default() -> Self {
                    Self::new(<$t>::default())
                }
            }

            impl std::ops::Deref for $name {
                type Target = loom::sync::atomic::$name;
                fn deref(&self) -> &Self::Target {
                    &self.0
                }
            }
        )*};
    }

    seq_cst_initialised!(AtomicBool(bool), AtomicU32(u32), AtomicU64(u64));
}
