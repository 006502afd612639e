//! Per-key state of [`AnyKey`](crate::AnyKey) registrations.
//!
//! An `AnyKey` registration answers every key that has no registration of its own, with one
//! instance per key (per scope and key, for scoped services). Each (slot, key) pair it serves gets
//! a *virtual slot*: an id past the last real slot, handed out once and kept for the provider's
//! life. A virtual slot goes wherever a slot does (the resolution chain, a scope's slot table,
//! the wait graph), so exactly-once creation, cycle and deadlock detection work per key with the
//! same machinery as for any other registration. A singleton's virtual slot has its own [`Cell`].

use std::any::TypeId;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hashbrown::HashTable;

use super::cell::Cell;
use crate::key::{ServiceKey, keyed_hash};

/// A virtual slot and its singleton cell.
pub(crate) type VirtualSlot = (u32, Arc<Cell>);

/// One (slot, key) pair served by an `AnyKey` registration.
struct Entry {
    slot: u32,
    key: ServiceKey,
    hash: u64,
    cell: Arc<Cell>,
}

/// The virtual slots handed out so far; virtual slot `base + i` is `entries[i]`.
pub(crate) struct PerKey {
    base: u32,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Indexes into `entries`, by (slot, key) hash.
    index: HashTable<u32>,
    entries: Vec<Entry>,
}

fn mix(slot: u32, key_hash: u64) -> u64 {
    key_hash ^ u64::from(slot).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl PerKey {
    /// Virtual slots start at `base`: the number of real slots.
    pub(crate) fn new(base: usize) -> Self {
        Self { base: u32::try_from(base).expect("fewer than 2^32 registrations"), inner: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing user-supplied runs under this lock, so a poisoned table is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The virtual slot (and its singleton cell) for `key` served by `slot`, a registration of
    /// `service`; the key is cloned only the first time it is seen.
    pub(crate) fn virtual_slot<K: Clone + Eq + Hash + Send + Sync + 'static>(
        &self,
        slot: u32,
        service: TypeId,
        key: &K,
    ) -> VirtualSlot {
        self.find_or_insert(slot, keyed_hash(service, key), |k| k.matches(key), || ServiceKey::new(key.clone()))
    }

    /// [`virtual_slot`](Self::virtual_slot) for an erased key.
    pub(crate) fn virtual_slot_erased(&self, slot: u32, service: TypeId, key: &ServiceKey) -> VirtualSlot {
        self.find_or_insert(slot, key.hash_for(service), |k| k.same_as(key), || key.clone())
    }

    fn find_or_insert(
        &self,
        slot: u32,
        key_hash: u64,
        eq: impl Fn(&ServiceKey) -> bool,
        make: impl FnOnce() -> ServiceKey,
    ) -> VirtualSlot {
        let hash = mix(slot, key_hash);
        let mut inner = self.lock();
        let Inner { index, entries } = &mut *inner;
        if let Some(&i) = index.find(hash, |&i| {
            let e = &entries[i as usize];
            e.slot == slot && eq(&e.key)
        }) {
            return (self.base + i, entries[i as usize].cell.clone());
        }
        let i = u32::try_from(entries.len()).expect("fewer than 2^32 keys");
        let cell = Arc::new(Cell::default());
        entries.push(Entry { slot, key: make(), hash, cell: cell.clone() });
        index.insert_unique(hash, i, |&j| entries[j as usize].hash);
        (self.base + i, cell)
    }

    /// Whether `id` is a virtual slot.
    #[inline]
    pub(crate) fn is_virtual(&self, id: u32) -> bool {
        id >= self.base
    }

    /// The real slot behind `id` (itself, for a real slot).
    pub(crate) fn real_slot(&self, id: u32) -> u32 {
        if self.is_virtual(id) { self.lock().entries[(id - self.base) as usize].slot } else { id }
    }

    /// The key a virtual slot serves.
    pub(crate) fn key(&self, id: u32) -> Option<ServiceKey> {
        if !self.is_virtual(id) {
            return None;
        }
        Some(self.lock().entries[(id - self.base) as usize].key.clone())
    }

    /// The singleton cell of a virtual slot.
    pub(crate) fn cell(&self, id: u32) -> Arc<Cell> {
        self.lock().entries[(id - self.base) as usize].cell.clone()
    }
}
