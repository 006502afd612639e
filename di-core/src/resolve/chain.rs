//! The resolution chain: which registrations are being created, outermost first.
//!
//! A factory receives a provider handle that carries the chain, so a nested resolve knows what
//! it is nested in: that is how cycles are caught before they recurse, and how a scoped
//! service knows that a singleton above it would capture it.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::lifetime::Lifetime;

/// A process-wide unique id for a new resolution, without touching a shared atomic on every
/// call: each thread reserves a block of ids at a time. Id 0 is never handed out (it marks a
/// free cell).
#[inline]
pub(crate) fn next_resolution_id() -> u64 {
    const BLOCK: u64 = 1 << 16;
    static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    RANGE.with(|range| {
        let (mut next, mut end) = range.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(1, Ordering::Relaxed) * BLOCK;
            end = next + BLOCK;
        }
        range.set((next + 1, end));
        next
    })
}

/// One link: the registration whose factory is running, and the link that asked for it.
///
/// A factory's handle holds its link inline; the link is moved behind an `Arc` only when that
/// factory resolves something that itself runs a factory, so leaf factories allocate no chain.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    /// Identifies the whole resolution across threads, for deadlock detection.
    pub(crate) id: u64,
    pub(crate) slot: u32,
    pub(crate) service: &'static str,
    pub(crate) lifetime: Lifetime,
    pub(crate) parent: Option<Arc<Self>>,
}

impl Chain {
    fn links(&self) -> impl Iterator<Item = &Self> {
        std::iter::successors(Some(self), |c| c.parent.as_deref())
    }

    pub(crate) fn contains(&self, slot: u32) -> bool {
        self.links().any(|c| c.slot == slot)
    }

    /// Service names, outermost first.
    pub(crate) fn path(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.links().map(|c| c.service).collect();
        v.reverse();
        v
    }

    /// The innermost singleton on the chain: the one that would capture a scoped service.
    pub(crate) fn nearest_singleton(&self) -> Option<&'static str> {
        self.links().find(|c| c.lifetime == Lifetime::Singleton).map(|c| c.service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(slot: u32, service: &'static str, lifetime: Lifetime, parent: Option<Chain>) -> Chain {
        Chain { id: 1, slot, service, lifetime, parent: parent.map(Arc::new) }
    }

    #[test]
    fn path_is_outermost_first_and_nearest_singleton_is_innermost() {
        let a = link(0, "a", Lifetime::Singleton, None);
        let b = link(1, "b", Lifetime::Singleton, Some(a));
        let c = link(2, "c", Lifetime::Transient, Some(b));
        assert_eq!(c.path(), ["a", "b", "c"]);
        assert_eq!(c.nearest_singleton(), Some("b"));
        assert!(c.contains(0) && !c.contains(3));
    }
}
