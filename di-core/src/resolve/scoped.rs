//! A scope's table of scoped services, by slot (or virtual slot).
//!
//! Most scopes resolve a handful of scoped services: the first [`INLINE`] live inline and are
//! found by a scan; a scope that resolves more keeps the rest in a hash map. A lookup is bounded
//! either way, and an empty scope allocates nothing. The table is only touched under its scope's
//! lock (see [`ScopeState`](crate::scope::ScopeState)).

use rustc_hash::FxHashMap;

use super::once::Owner;
use crate::descriptor::Instance;

/// One scoped registration's state within a scope.
#[derive(Debug)]
pub(crate) enum Scoped {
    /// A creation is running the factory.
    Creating(Owner),
    Ready(Instance),
}

#[derive(Debug, Default)]
pub(crate) struct ScopedSlots {
    inline: [Option<(u32, Scoped)>; INLINE],
    spilled: Option<Box<FxHashMap<u32, Scoped>>>,
}

const INLINE: usize = 2;

impl ScopedSlots {
    #[inline]
    pub(crate) fn get(&self, slot: u32) -> Option<&Scoped> {
        self.inline
            .iter()
            .flatten()
            .find(|(s, _)| *s == slot)
            .map(|(_, entry)| entry)
            // The call only once there is a map: a first claim misses the inline entries.
            .or_else(|| if self.spilled.is_some() { self.get_spilled(slot) } else { None })
    }

    /// Out of line: hashing the slot is for scopes that resolve many scoped services.
    #[inline(never)]
    fn get_spilled(&self, slot: u32) -> Option<&Scoped> {
        self.spilled.as_ref()?.get(&slot)
    }

    #[inline]
    pub(crate) fn set(&mut self, slot: u32, entry: Scoped) {
        if let Some((_, e)) = self.inline.iter_mut().flatten().find(|(s, _)| *s == slot) {
            *e = entry;
            return;
        }
        self.set_spilled(slot, entry);
    }

    #[inline(never)]
    fn set_spilled(&mut self, slot: u32, entry: Scoped) {
        if let Some(map) = self.spilled.as_mut().filter(|m| m.contains_key(&slot)) {
            map.insert(slot, entry);
            return;
        }
        self.insert(slot, entry);
    }

    /// Adds `slot`, known to be absent.
    #[inline]
    pub(crate) fn insert(&mut self, slot: u32, entry: Scoped) {
        match self.inline.iter_mut().find(|e| e.is_none()) {
            Some(free) => *free = Some((slot, entry)),
            None => self.insert_spilled(slot, entry),
        }
    }

    #[inline(never)]
    fn insert_spilled(&mut self, slot: u32, entry: Scoped) {
        self.spilled.get_or_insert_default().insert(slot, entry);
    }

    #[inline]
    pub(crate) fn remove(&mut self, slot: u32) {
        if let Some(e) = self.inline.iter_mut().find(|e| matches!(e, Some((s, _)) if *s == slot)) {
            *e = None;
        } else {
            self.remove_spilled(slot);
        }
    }

    #[inline(never)]
    fn remove_spilled(&mut self, slot: u32) {
        if let Some(map) = self.spilled.as_mut() {
            map.remove(&slot);
        }
    }

    /// Who is creating `slot`, if anyone.
    pub(crate) fn owner(&self, slot: u32) -> Owner {
        match self.get(slot) {
            Some(Scoped::Creating(owner)) => *owner,
            _ => Owner::FREE,
        }
    }
}
