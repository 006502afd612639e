//! The resolution chain: which creations a resolve is nested in, innermost first.
//!
//! Every creation of a singleton or scoped service has its own identity (a [`Creation`] id,
//! unique for the provider's life); transients own no cell, so they carry none. The chain is how
//! a nested resolve knows what it is nested in: a registration already on it is a cycle, a
//! singleton on it would capture a scoped service, and its creation ids are what the wait graph
//! checks a new wait against.
//!
//! A sync factory's chain lives on the stack ([`Link`], borrowed by its [`Resolver`]); an async
//! factory's future is `'static`, so its chain is shared ([`SharedLink`], behind an `Arc`).
//!
//! [`Resolver`]: crate::Resolver

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::key::ServiceKey;
use crate::lifetime::Lifetime;

/// The identity of one creation: `0` for none (a transient, or a top-level lookup).
pub(crate) type Creation = u64;

/// One registration being created.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The slot it is cached and chained under: the registration's slot, or the virtual slot of
    /// an `AnyKey` registration serving one key.
    pub(crate) id: u32,
    pub(crate) service: &'static str,
    pub(crate) lifetime: Lifetime,
    /// This creation's identity; `0` for a transient.
    pub(crate) creation: Creation,
    /// The key an `AnyKey` registration is creating this instance for.
    pub(crate) key: Option<ServiceKey>,
}

/// A resolve's chain of enclosing creations.
#[derive(Debug, Clone, Default)]
pub(crate) enum Chain<'a> {
    /// A top-level lookup.
    #[default]
    Empty,
    /// Inside a sync factory: the link lives on the creating frame's stack.
    Stack(&'a Link<'a>),
    /// Inside an async factory.
    Shared(Arc<SharedLink>),
}

/// A stack-allocated link.
#[derive(Debug)]
pub(crate) struct Link<'a> {
    pub(crate) node: Node,
    pub(crate) parent: &'a Chain<'a>,
}

/// A shared link, for chains that must outlive a stack frame.
#[derive(Debug)]
pub(crate) struct SharedLink {
    node: Node,
    parent: Option<Arc<Self>>,
    /// Set when the creation ends: an async factory may keep its `Resolver<'static>`, and a
    /// resolve through it afterwards is nested in nothing (the creation is over), so it must
    /// not report the creation's own service as a cycle.
    ended: AtomicBool,
}

/// The chain of a resolve nested in nothing.
static EMPTY: Chain<'static> = Chain::Empty;

/// Marks a shared link's creation as ended when dropped (completed, failed or cancelled).
#[derive(Debug)]
pub(crate) struct EndsCreation(Arc<SharedLink>);

impl Drop for EndsCreation {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::Release);
    }
}

impl<'a> Chain<'a> {
    /// The nodes, innermost first.
    pub(crate) fn nodes(&self) -> Nodes<'_> {
        match self {
            Self::Empty => Nodes::Done,
            Self::Stack(link) => Nodes::Stack(link),
            Self::Shared(link) => Nodes::Shared(link),
        }
    }

    pub(crate) fn innermost(&self) -> Option<&Node> {
        self.nodes().next()
    }

    pub(crate) fn contains(&self, id: u32) -> bool {
        self.nodes().any(|n| n.id == id)
    }

    /// Service names, outermost first.
    pub(crate) fn path(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.nodes().map(|n| n.service).collect();
        v.reverse();
        v
    }

    /// The innermost singleton on the chain: the one that would capture a scoped service.
    pub(crate) fn nearest_singleton(&self) -> Option<&'static str> {
        self.nodes().find(|n| n.lifetime == Lifetime::Singleton).map(|n| n.service)
    }

    /// The creations on the chain, innermost first.
    pub(crate) fn creations(&self) -> impl Iterator<Item = (Creation, &'static str)> + '_ {
        self.nodes().filter(|n| n.creation != 0).map(|n| (n.creation, n.service))
    }

    /// The chain with `node` added, as a shared chain (for an async factory's resolver), and
    /// the guard that ends it.
    pub(crate) fn push_shared(&self, node: Node) -> (Chain<'static>, EndsCreation) {
        let link = Arc::new(SharedLink { node, parent: self.to_shared(), ended: AtomicBool::new(false) });
        (Chain::Shared(link.clone()), EndsCreation(link))
    }

    /// This chain, or the empty one once the creation it belongs to has ended.
    #[inline]
    pub(crate) fn current(&self) -> &Self {
        match self {
            Self::Shared(link) if link.ended.load(Ordering::Acquire) => &EMPTY,
            _ => self,
        }
    }

    /// This chain as shared links, copying stack links (rare: only an async creation nested in
    /// a sync factory's frame does it).
    fn to_shared(&self) -> Option<Arc<SharedLink>> {
        match self {
            Self::Empty => None,
            Self::Shared(link) => Some(link.clone()),
            Self::Stack(link) => {
                let parent = link.parent.to_shared();
                Some(Arc::new(SharedLink { node: link.node.clone(), parent, ended: AtomicBool::new(false) }))
            }
        }
    }
}

/// Iterates a chain's nodes, innermost first.
#[derive(Debug)]
pub(crate) enum Nodes<'b> {
    Done,
    Stack(&'b Link<'b>),
    Shared(&'b SharedLink),
}

impl<'b> Iterator for Nodes<'b> {
    type Item = &'b Node;

    fn next(&mut self) -> Option<&'b Node> {
        match *self {
            Self::Done => None,
            Self::Stack(link) => {
                *self = match link.parent {
                    Chain::Empty => Self::Done,
                    Chain::Stack(parent) => Self::Stack(parent),
                    Chain::Shared(parent) => Self::Shared(parent),
                };
                Some(&link.node)
            }
            Self::Shared(link) => {
                *self = link.parent.as_deref().map_or(Self::Done, Self::Shared);
                Some(&link.node)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u32, service: &'static str, lifetime: Lifetime, creation: Creation) -> Node {
        Node { id, service, lifetime, creation, key: None }
    }

    #[test]
    fn stack_and_shared_links_read_as_one_chain() {
        let (outer, ends) = Chain::Empty.push_shared(node(0, "a", Lifetime::Singleton, 1));
        let middle = Link { node: node(1, "b", Lifetime::Singleton, 2), parent: &outer };
        let middle_chain = Chain::Stack(&middle);
        let inner = Link { node: node(2, "c", Lifetime::Transient, 0), parent: &middle_chain };
        let chain = Chain::Stack(&inner);
        assert_eq!(chain.path(), ["a", "b", "c"]);
        assert_eq!(chain.nearest_singleton(), Some("b"));
        assert!(chain.contains(0) && !chain.contains(3));
        assert_eq!(chain.creations().map(|(c, _)| c).collect::<Vec<_>>(), [2, 1]);
        let (copied, _) = chain.push_shared(node(3, "d", Lifetime::Scoped, 3));
        assert_eq!(copied.path(), ["a", "b", "c", "d"]);
        let Chain::Stack(middle) = inner.parent else { unreachable!() };
        assert_eq!(middle.parent.current().path(), ["a"]);
        drop(ends);
        assert!(middle.parent.current().path().is_empty(), "an ended creation's chain reads as empty");
    }
}
