//! The resolution chain: which registrations are being created, outermost first.
//!
//! A factory receives a provider handle that carries the chain, so a nested resolve knows what
//! it is nested in: that is how cycles are caught before they recurse, and how a scoped
//! service knows that a singleton above it would capture it.

use std::sync::Arc;

use crate::lifetime::Lifetime;

/// One link: the registration whose factory is running, and the link that asked for it.
#[derive(Debug)]
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

    fn link(slot: u32, service: &'static str, lifetime: Lifetime, parent: Option<Arc<Chain>>) -> Arc<Chain> {
        Arc::new(Chain { id: 1, slot, service, lifetime, parent })
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
