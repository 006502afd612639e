//! The wait graph: which creations are waiting for which, so that a wait that would close a
//! cycle fails with a cycle error instead of hanging.
//!
//! A wait is recorded with the chain of creations it is nested in (innermost first) and the
//! creation it waits for. Each wait is its own record, so two concurrent waits inside one
//! resolution (`join!` in an async factory) are both seen. A creation `X` is blocked by every
//! record whose chain contains `X` (the wait happens inside `X`'s factory, directly or through
//! nested creations), and so depends on each such record's owner.
//!
//! A new wait by chain `C` for owner `D` would deadlock exactly when `D` is in `C` (an ancestor:
//! re-entrance) or `D` depends, transitively, on a creation in `C`. The check and the insertion
//! happen under one lock, so of two waits that close a cycle together, the second sees the first.
//!
//! Records hold the owner seen when the wait began. When that creation ends, its waiters are
//! woken and drop their records; until then the stale record points at a creation that waits
//! for nothing, a dead end, so it can never make a cycle appear that is not there. No user code
//! runs under the lock.

use super::chain::Creation;
use crate::sync::{Mutex, lock};

#[derive(Debug)]
struct Record {
    /// The creations the waiter is nested in, innermost first.
    chain: Vec<Creation>,
    /// The creation it waits for.
    owner: Creation,
}

/// Every wait in progress in one provider.
#[derive(Debug, Default)]
pub(crate) struct WaitGraph {
    records: Mutex<Slab>,
}

#[derive(Debug, Default)]
struct Slab {
    entries: Vec<Option<Record>>,
    free: Vec<usize>,
}

/// A wait would close a cycle: `reached` is the creation of the waiter's own chain that the
/// owner (transitively) waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadlock {
    pub(crate) reached: Creation,
}

impl WaitGraph {
    /// Records that `chain` waits for `owner`, unless that would deadlock.
    pub(crate) fn register(&self, chain: Vec<Creation>, owner: Creation) -> Result<WaitTicket<'_>, Deadlock> {
        let mut slab = lock(&self.records);
        if let Some(reached) = slab.reaches(owner, &chain) {
            return Err(Deadlock { reached });
        }
        let record = Some(Record { chain, owner });
        let index = match slab.free.pop() {
            Some(i) => {
                slab.entries[i] = record;
                i
            }
            None => {
                slab.entries.push(record);
                slab.entries.len() - 1
            }
        };
        Ok(WaitTicket { graph: self, index })
    }

    /// How many waits are recorded (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.records).entries.iter().flatten().count()
    }
}

impl Slab {
    /// The first creation of `chain` that `owner` is, or depends on.
    fn reaches(&self, owner: Creation, chain: &[Creation]) -> Option<Creation> {
        if chain.contains(&owner) {
            return Some(owner);
        }
        let mut seen = vec![owner];
        let mut frontier = vec![owner];
        while let Some(x) = frontier.pop() {
            for record in self.entries.iter().flatten().filter(|r| r.chain.contains(&x)) {
                let next = record.owner;
                if chain.contains(&next) {
                    return Some(next);
                }
                if !seen.contains(&next) {
                    seen.push(next);
                    frontier.push(next);
                }
            }
        }
        None
    }
}

/// A recorded wait; removed when dropped.
#[derive(Debug)]
pub(crate) struct WaitTicket<'g> {
    graph: &'g WaitGraph,
    index: usize,
}

impl Drop for WaitTicket<'_> {
    fn drop(&mut self) {
        let mut slab = lock(&self.graph.records);
        slab.entries[self.index] = None;
        slab.free.push(self.index);
    }
}

#[cfg(all(test, not(loom)))]
mod proptests;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sibling_waits_are_recorded_separately_and_close_a_cycle_together() {
        // Creation 1 (A) joins two branches: 2 (X) and 3 (Y). X waits for Y, then Y for X.
        let graph = WaitGraph::default();
        let x_waits = graph.register(vec![2, 1], 3).expect("no cycle yet");
        assert_eq!(graph.register(vec![3, 1], 2).map(|_| ()), Err(Deadlock { reached: 3 }));
        drop(x_waits);
        assert_eq!(graph.len(), 0);
        assert!(graph.register(vec![3, 1], 2).is_ok(), "once X stopped waiting, Y may wait for X");
    }

    #[test]
    fn waiting_for_a_sibling_under_the_same_parent_is_not_a_cycle() {
        // A's factory joins get(Config) (creation 2) and get(Client) (creation 3, which waits for 2).
        let graph = WaitGraph::default();
        let client = graph.register(vec![3, 1], 2).expect("Client waits for Config");
        let direct = graph.register(vec![1], 2).expect("a second wait inside A, for Config too");
        assert_eq!(graph.len(), 2);
        drop((client, direct));
    }

    #[test]
    fn waiting_for_an_ancestor_is_a_cycle() {
        let graph = WaitGraph::default();
        assert_eq!(graph.register(vec![5, 4], 4).map(|_| ()), Err(Deadlock { reached: 4 }));
    }
}
