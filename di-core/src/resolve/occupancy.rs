//! Which creations the current thread is busy with.
//!
//! A resolve through a factory's [`Resolver`](crate::Resolver) knows what it is nested in from
//! its chain. A resolve through a plain `ServiceProvider` handle carries no chain, yet a factory
//! may use one (it resolved `Arc<ServiceProvider>`, or keeps a handle from elsewhere). If that
//! resolve waits, the creations whose factory is running on this thread (a sync call, or one
//! poll of an async factory) cannot make progress until it returns: they wait with it. This list
//! is how the wait graph learns that. It identifies no resolution; it is only consulted when a
//! resolve must wait, and costs a push and a pop per singleton or scoped creation.
//!
//! The innermost [`INLINE`] entries live in plain cells: a thread-local without a destructor is
//! one address computation away, with no borrow flag or growth check. Deeper nesting goes on to
//! a vector.

use std::cell::{Cell, RefCell};

use super::chain::Creation;
use crate::sync::thread_local;

type Entry = (Creation, &'static str);

/// How many nested creations a thread keeps in cells before using [`DEEPER`].
const INLINE: usize = 8;

/// The first [`INLINE`] entries, outermost first, and how many entries there are in all.
struct Stack {
    depth: Cell<usize>,
    inline: [Cell<Entry>; INLINE],
}

impl Stack {
    const fn new() -> Self {
        Self { depth: Cell::new(0), inline: [const { Cell::new((0, "")) }; INLINE] }
    }
}

#[cfg(not(loom))]
thread_local! {
    static BUSY: Stack = const { Stack::new() };
    static DEEPER: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

// loom's `thread_local!` takes no `const { .. }` initialiser.
#[cfg(loom)]
thread_local! {
    static BUSY: Stack = Stack::new();
    static DEEPER: RefCell<Vec<Entry>> = RefCell::new(Vec::new());
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
        BUSY.with(|b| {
            let depth = b.depth.get();
            match b.inline.get(depth) {
                Some(cell) => cell.set((creation, service)),
                None => push_deeper((creation, service)),
            }
            b.depth.set(depth + 1);
        });
        Some(Self(()))
    }
}

impl Drop for Busy {
    #[inline]
    fn drop(&mut self) {
        BUSY.with(|b| {
            let depth = b.depth.get() - 1;
            b.depth.set(depth);
            if depth >= INLINE {
                pop_deeper();
            }
        });
    }
}

// Out of line: rare, and kept off the inline push and pop.
#[cold]
#[inline(never)]
fn push_deeper(entry: Entry) {
    DEEPER.with(|d| d.borrow_mut().push(entry));
}

#[cold]
#[inline(never)]
fn pop_deeper() {
    DEEPER.with(|d| d.borrow_mut().pop());
}

/// The creations running on this thread, innermost first.
pub(crate) fn current() -> Vec<(Creation, &'static str)> {
    BUSY.with(|b| {
        let depth = b.depth.get();
        let mut all: Vec<Entry> = b.inline[..depth.min(INLINE)].iter().map(Cell::get).collect();
        if depth > INLINE {
            DEEPER.with(|d| all.extend(d.borrow().iter().copied()));
        }
        all.reverse();
        all
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn lists_nested_creations_innermost_first_past_the_inline_cells() {
        let names: Vec<&'static str> = (0..INLINE + 3).map(|i| &*format!("s{i}").leak()).collect();
        let mut guards = Vec::new();
        for (i, name) in names.iter().enumerate() {
            guards.push(Busy::enter(i as Creation + 1, name).expect("a creation"));
        }
        let expected: Vec<Entry> = (0..names.len()).rev().map(|i| (i as Creation + 1, names[i])).collect();
        assert_eq!(current(), expected);
        guards.truncate(INLINE - 1);
        assert_eq!(current(), expected[expected.len() - (INLINE - 1)..]);
        drop(guards);
        assert!(current().is_empty());
        assert!(Busy::enter(0, "transient").is_none());
    }
}
