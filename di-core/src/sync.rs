//! The synchronisation primitives the container's own protocols use: `std`'s normally, loom's
//! when built with `--cfg loom`, so the model checker in `di-core/loom/` explores every
//! interleaving of the claim, wait/wake and disposal protocols (the tokio-util pattern).
//!
//! Everything the resolver synchronises on goes through this module; `OnceLock` stays `std`'s
//! (loom has none): its publication is trusted, and the protocol around it is what loom checks.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom::thread_local;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::thread_local;

/// Locks `mutex`, ignoring poisoning: no user code runs under the container's locks, so the
/// data behind a poisoned one is still consistent.
#[inline]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
