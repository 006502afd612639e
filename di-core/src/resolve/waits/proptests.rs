//! The wait graph against a reference deadlock detector.
//!
//! Random sequences of creations starting and finishing (nested, like factories resolving
//! inside factories) and of waits beginning and ending are applied both to a [`WaitGraph`] and
//! to a plain model. The model builds the real dependency graph over creations: a parent
//! depends on each live child (its factory cannot return before they end), and every creation
//! on a wait's chain depends on the wait's owner. A new wait deadlocks iff its owner is on its
//! chain or reaches a member of it. The graph must agree exactly: no missed deadlock, no false
//! one, and a `reached` that is on the chain and that the owner really reaches.
//!
//! The graph never sees parent edges; it relies on chains holding every ancestor. The model
//! keeps that promise: a wait's chain is always the full ancestry of the creation it is made in.

use std::collections::{BTreeMap, BTreeSet};
use std::iter;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::{Deadlock, WaitGraph, WaitTicket};
use crate::resolve::chain::Creation;

/// Most creations alive at once: few, so that waits keep running into each other.
const MAX_LIVE: usize = 6;
const CASES: u32 = 512;

#[derive(Debug, Clone)]
enum Op {
    /// A new creation, nested in a live one (a factory resolving another service) or top-level.
    Start { parent: Option<Index> },
    /// A creation ends; skipped while it has live children or waits made in it.
    Finish { creation: Index },
    /// A resolve made inside `within` (or top-level) waits for `owner`. With `off_chain` the owner
    /// is picked off the waiter's own chain (skipped if none is), so that re-entrance does not
    /// crowd out the deadlocks through other waits.
    Wait { within: Option<Index>, owner: Index, off_chain: bool },
    /// A recorded wait ends (its owner finished and woke it, or the waiter was dropped).
    EndWait { wait: Index },
}

fn op() -> impl Strategy<Value = Op> {
    // Waits dominate and are mostly nested: a top-level wait can never deadlock.
    prop_oneof![
        3 => prop::option::weighted(0.5, any::<Index>()).prop_map(|parent| Op::Start { parent }),
        1 => any::<Index>().prop_map(|creation| Op::Finish { creation }),
        5 => (prop::option::weighted(0.9, any::<Index>()), any::<Index>(), prop::bool::weighted(0.9))
            .prop_map(|(within, owner, off_chain)| Op::Wait { within, owner, off_chain }),
        2 => any::<Index>().prop_map(|wait| Op::EndWait { wait }),
    ]
}

/// A wait recorded in both the graph (the ticket) and the model (chain and owner).
#[derive(Debug)]
struct Wait<'g> {
    chain: Vec<Creation>,
    owner: Creation,
    _ticket: WaitTicket<'g>,
}

/// The model, driving the graph under test alongside.
#[derive(Debug)]
struct Model<'g> {
    graph: &'g WaitGraph,
    last_id: Creation,
    /// Live creations and their parents.
    parents: BTreeMap<Creation, Option<Creation>>,
    waits: Vec<Wait<'g>>,
}

impl<'g> Model<'g> {
    const fn new(graph: &'g WaitGraph) -> Self {
        Self { graph, last_id: 0, parents: BTreeMap::new(), waits: Vec::new() }
    }

    fn start(&mut self, parent: Option<Creation>) -> Creation {
        self.last_id += 1; // fresh and nonzero: ids are never reused
        self.parents.insert(self.last_id, parent);
        self.last_id
    }

    /// Ends `creation` if nothing still runs inside it; whether it did.
    fn finish(&mut self, creation: Creation) -> bool {
        let busy = self.parents.values().any(|&p| p == Some(creation))
            || self.waits.iter().any(|w| w.chain.contains(&creation));
        // Waits *for* it stay recorded until ended: stale records must stay harmless.
        !busy && self.parents.remove(&creation).is_some()
    }

    /// The ancestry of a resolve made inside `within`, innermost first.
    fn chain(&self, within: Option<Creation>) -> Vec<Creation> {
        iter::successors(within, |c| self.parents[c]).collect()
    }

    /// Every creation `from` is, or transitively depends on.
    fn reachable(&self, from: Creation) -> BTreeSet<Creation> {
        let mut seen = BTreeSet::from([from]);
        let mut stack = vec![from];
        while let Some(x) = stack.pop() {
            let children = self.parents.iter().filter(|&(_, &p)| p == Some(x)).map(|(&c, _)| c);
            let owners = self.waits.iter().filter(|w| w.chain.contains(&x)).map(|w| w.owner);
            for next in children.chain(owners).collect::<Vec<_>>() {
                if seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        seen
    }

    /// Registers a wait made inside `within` for `owner` with the graph, checking its answer
    /// against the model's; `Some(reached)` when it deadlocked.
    fn wait(&mut self, within: Option<Creation>, owner: Creation) -> Result<Option<Creation>, TestCaseError> {
        let chain = self.chain(within);
        let reachable = self.reachable(owner);
        let closes: Vec<_> = chain.iter().copied().filter(|c| reachable.contains(c)).collect();
        match self.graph.register(chain.clone(), owner) {
            Ok(ticket) => {
                prop_assert!(
                    closes.is_empty(),
                    "missed deadlock: {chain:?} waits for {owner}, which reaches {closes:?}"
                );
                self.waits.push(Wait { chain, owner, _ticket: ticket });
                Ok(None)
            }
            Err(Deadlock { reached }) => {
                prop_assert!(
                    closes.contains(&reached),
                    "{chain:?} waiting for {owner}: reported {reached}, but only {closes:?} close a cycle",
                );
                Ok(Some(reached))
            }
        }
    }

    fn end_wait(&mut self, index: usize) {
        self.waits.swap_remove(index);
    }

    /// Applies one generated op, skipping it when it does not fit the state; whether it
    /// deadlocked.
    fn apply(&mut self, op: &Op) -> Result<bool, TestCaseError> {
        let live: Vec<Creation> = self.parents.keys().copied().collect();
        let pick = |i: &Index| *i.get(&live);
        let mut deadlocked = false;
        match op {
            Op::Start { parent } if live.len() < MAX_LIVE => {
                self.start(parent.as_ref().filter(|_| !live.is_empty()).map(pick));
            }
            Op::Finish { creation } if !live.is_empty() => {
                self.finish(pick(creation));
            }
            Op::Wait { within, owner, off_chain } if !live.is_empty() => {
                let within = within.as_ref().map(pick);
                let chain = self.chain(within);
                let off: Vec<_> = live.iter().copied().filter(|c| !chain.contains(c)).collect();
                let owners = if *off_chain { &off } else { &live };
                if !owners.is_empty() {
                    let owner = *owner.get(owners);
                    // Re-entrance (`reached == owner`) is the easy case; count the others.
                    deadlocked = self.wait(within, owner)?.is_some_and(|reached| reached != owner);
                }
            }
            Op::EndWait { wait } if !self.waits.is_empty() => self.end_wait(wait.index(self.waits.len())),
            _ => {}
        }
        prop_assert_eq!(self.graph.len(), self.waits.len(), "the graph holds exactly the live tickets");
        Ok(deadlocked)
    }
}

#[test]
fn the_wait_graph_agrees_with_a_reference_detector() {
    let deadlocked_cases = AtomicUsize::new(0);
    let config = Config { cases: CASES, failure_persistence: None, ..Config::default() };
    let result = TestRunner::new(config).run(&prop::collection::vec(op(), 10..=40), |ops| {
        let graph = WaitGraph::default();
        let mut model = Model::new(&graph);
        let mut deadlocked = false;
        for op in &ops {
            deadlocked |= model.apply(op)?;
        }
        drop(model);
        prop_assert_eq!(graph.len(), 0, "dropping every ticket empties the graph");
        if deadlocked {
            deadlocked_cases.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Not vacuous: about half the cases hit a deadlock through other waits.
    let deadlocked = deadlocked_cases.into_inner();
    assert!(deadlocked >= CASES as usize / 5, "only {deadlocked} of {CASES} cases deadlocked through other waits");
}

#[test]
fn join_of_two_siblings_deadlocks_only_when_each_waits_for_the_other() -> Result<(), TestCaseError> {
    let graph = WaitGraph::default();
    let mut m = Model::new(&graph);
    // A's factory joins two resolves: creations X and Y.
    let a = m.start(None);
    let (x, y) = (m.start(Some(a)), m.start(Some(a)));
    assert_eq!(m.wait(Some(x), y)?, None, "X waits for Y: fine on its own");
    assert_eq!(m.wait(Some(y), x)?, Some(y), "Y then waits for X: a cycle through Y");
    m.end_wait(0);
    assert_eq!(m.wait(Some(y), x)?, None, "Y waits for X alone: fine");
    assert_eq!(m.wait(Some(a), x)?, None, "A itself waits for its child X: fine");
    assert_eq!(m.wait(Some(x), a)?, Some(a), "X waits for its parent A: re-entrance");
    Ok(())
}

#[test]
fn a_three_way_cycle_across_threads_fails_on_the_wait_that_closes_it() -> Result<(), TestCaseError> {
    let graph = WaitGraph::default();
    let mut m = Model::new(&graph);
    // Three top-level creations on three threads; P and R wait from nested creations.
    let (p, q, r) = (m.start(None), m.start(None), m.start(None));
    let (p1, r1) = (m.start(Some(p)), m.start(Some(r)));
    assert_eq!(m.wait(Some(p1), q)?, None, "P waits for Q");
    assert_eq!(m.wait(Some(q), r)?, None, "Q waits for R");
    assert_eq!(m.wait(None, p)?, None, "a top-level resolve waits for P: never a cycle");
    assert_eq!(m.wait(Some(r1), p)?, Some(r), "R waits for P: P -> Q -> R closes the cycle");
    Ok(())
}

#[test]
fn a_wait_that_ended_or_went_stale_closes_no_cycle() -> Result<(), TestCaseError> {
    let graph = WaitGraph::default();
    let mut m = Model::new(&graph);
    let (p, q) = (m.start(None), m.start(None));
    assert_eq!(m.wait(Some(p), q)?, None);
    assert_eq!(m.wait(Some(q), p)?, Some(q));
    m.end_wait(0);
    assert_eq!(m.wait(Some(q), p)?, None, "once P stopped waiting, Q may wait for P");
    // P finishes while Q1's wait for it is not yet dropped: it points at a dead end.
    let q1 = m.start(Some(q));
    assert_eq!(m.wait(Some(q1), p)?, None);
    m.end_wait(0);
    assert!(m.finish(p));
    let s = m.start(None);
    assert_eq!(m.wait(Some(s), q)?, None, "S waits for Q, which waits for finished P: no cycle");
    Ok(())
}
