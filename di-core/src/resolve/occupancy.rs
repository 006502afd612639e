//! Which creations the current thread is busy with.
//!
//! A resolve through a factory's [`Resolver`](crate::Resolver) knows what it is nested in from
//! its chain. A resolve through a plain `ServiceProvider` handle carries no chain, yet a factory
//! may use one (it resolved `Arc<ServiceProvider>`, or keeps a handle from elsewhere). If that
//! resolve waits, the creations whose factory is running on this thread (a sync call, or one
//! poll of an async factory) cannot make progress until it returns: they wait with it. This list
//! is how the wait graph learns that. It identifies no resolution; it is only consulted when a
//! resolve must wait, and costs a push and a pop per singleton or scoped creation.

use std::cell::RefCell;

use super::chain::Creation;
use crate::sync::thread_local;

#[cfg(not(loom))]
thread_local! {
    static BUSY: RefCell<Vec<(Creation, &'static str)>> = const { RefCell::new(Vec::new()) };
}

// loom's `thread_local!` takes no `const { .. }` initialiser.
#[cfg(loom)]
thread_local! {
    static BUSY: RefCell<Vec<(Creation, &'static str)>> = RefCell::new(Vec::new());
}

/// Marks a creation as running on this thread until dropped.
#[derive(Debug)]
pub(crate) struct Busy(());

impl Busy {
    #[inline]
    pub(crate) fn enter(creation: Creation, service: &'static str) -> Option<Self> {
        if creation == 0 {
            return None;
        }
        BUSY.with(|b| b.borrow_mut().push((creation, service)));
        Some(Self(()))
    }
}

impl Drop for Busy {
    #[inline]
    fn drop(&mut self) {
        BUSY.with(|b| b.borrow_mut().pop());
    }
}

/// The creations running on this thread, innermost first.
pub(crate) fn current() -> Vec<(Creation, &'static str)> {
    BUSY.with(|b| b.borrow().iter().rev().copied().collect())
}
