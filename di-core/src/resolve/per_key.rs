//! Per-key state of [`AnyKey`](crate::AnyKey) registrations.
//!
//! An `AnyKey` registration answers every key that has no registration of its own, with one
//! instance per key (per scope and key, for scoped services). Each (slot, key) pair it serves gets
//! a *virtual slot*: an id past the last real slot, handed out once and kept for the provider's
//! life. A virtual slot goes wherever a slot does (the resolution chain, a scope's slot table), so
//! exactly-once creation and cycle detection work per key with the same machinery as for any
//! other registration. A singleton's virtual slot has its own [`OnceCell`].
//!
//! The map is a `DashMap`, probed with the borrowed key: a cached value is served under one
//! shard's read lock (shared with every other reader), the key is hashed before any lock is
//! taken, and it is cloned (the first time it is seen) before the insert takes its shard's lock.

use std::any::{Any, TypeId};
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use dashmap::DashMap;
use rustc_hash::FxBuildHasher;

use super::once::OnceCell;
use crate::key::{ServiceKey, keyed_hash};
use crate::sync::{AtomicU32, Ordering};

/// One (slot, key) pair served by an `AnyKey` registration.
#[derive(Debug)]
pub(crate) struct VirtualSlot {
    pub(crate) id: u32,
    pub(crate) key: ServiceKey,
    pub(crate) cell: OnceCell,
}

/// The virtual slots handed out so far.
#[derive(Debug)]
pub(crate) struct PerKey {
    base: u32,
    next: AtomicU32,
    slots: DashMap<Owned, Arc<VirtualSlot>, FxBuildHasher>,
}

/// What the map is probed with: a registration's slot and a key, typed or erased.
trait Probe {
    fn slot(&self) -> u32;
    fn key_hash(&self) -> u64;
    fn key_eq(&self, other: &dyn Any) -> bool;
    fn key_any(&self) -> &dyn Any;
}

impl Hash for dyn Probe + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u32(self.slot());
        state.write_u64(self.key_hash());
    }
}

impl PartialEq for dyn Probe + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.slot() == other.slot() && self.key_eq(other.key_any())
    }
}

impl Eq for dyn Probe + '_ {}

/// A probe with a borrowed, typed key: no allocation, no clone.
struct Typed<'k, K> {
    slot: u32,
    hash: u64,
    key: &'k K,
}

impl<K: Eq + Send + Sync + 'static> Probe for Typed<'_, K> {
    fn slot(&self) -> u32 {
        self.slot
    }
    fn key_hash(&self) -> u64 {
        self.hash
    }
    fn key_eq(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<K>() == Some(self.key)
    }
    fn key_any(&self) -> &dyn Any {
        self.key
    }
}

/// The map's own key.
#[derive(Debug)]
struct Owned {
    slot: u32,
    hash: u64,
    key: ServiceKey,
}

impl Probe for Owned {
    fn slot(&self) -> u32 {
        self.slot
    }
    fn key_hash(&self) -> u64 {
        self.hash
    }
    fn key_eq(&self, other: &dyn Any) -> bool {
        self.key.eq_any(other)
    }
    fn key_any(&self) -> &dyn Any {
        self.key.as_any()
    }
}

impl Hash for Owned {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn Probe).hash(state);
    }
}

impl PartialEq for Owned {
    fn eq(&self, other: &Self) -> bool {
        (self as &dyn Probe) == (other as &dyn Probe)
    }
}

impl Eq for Owned {}

impl<'a> Borrow<dyn Probe + 'a> for Owned {
    fn borrow(&self) -> &(dyn Probe + 'a) {
        self
    }
}

impl PerKey {
    /// Virtual slots start at `base`: the number of real slots.
    pub(crate) fn new(base: usize) -> Self {
        let base = u32::try_from(base).expect("fewer than 2^32 registrations");
        Self { base, next: AtomicU32::new(base), slots: DashMap::default() }
    }

    /// The virtual slot for `key` served by `slot`, a registration of `service`; the key is
    /// cloned only the first time it is seen.
    pub(crate) fn virtual_slot<K: Clone + Eq + Hash + Send + Sync + 'static>(
        &self,
        slot: u32,
        service: TypeId,
        key: &K,
    ) -> Arc<VirtualSlot> {
        let hash = keyed_hash(service, key);
        let probe = Typed { slot, hash, key };
        if let Some(found) = self.slots.get(&probe as &dyn Probe) {
            return found.clone();
        }
        self.insert(Owned { slot, hash, key: ServiceKey::new(key.clone()) })
    }

    /// [`virtual_slot`](Self::virtual_slot) for an erased key.
    pub(crate) fn virtual_slot_erased(&self, slot: u32, service: TypeId, key: &ServiceKey) -> Arc<VirtualSlot> {
        let owned = Owned { slot, hash: key.hash_for(service), key: key.clone() };
        if let Some(found) = self.slots.get(&owned as &dyn Probe) {
            return found.clone();
        }
        self.insert(owned)
    }

    fn insert(&self, owned: Owned) -> Arc<VirtualSlot> {
        let key = owned.key.clone();
        self.slots
            .entry(owned)
            .or_insert_with(|| {
                let id = self.next.fetch_add(1, Ordering::Relaxed);
                assert!(id >= self.base, "fewer than 2^32 keys");
                Arc::new(VirtualSlot { id, key, cell: OnceCell::default() })
            })
            .clone()
    }
}
