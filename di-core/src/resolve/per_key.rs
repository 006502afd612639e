//! Per-key state of [`AnyKey`](crate::AnyKey) registrations.
//!
//! An `AnyKey` registration answers every key that has no registration of its own, with one
//! instance per key (per scope and key, for scoped services). Each (slot, key) pair it serves gets
//! a *virtual slot*: an id past the last real slot, handed out once and kept for the provider's
//! life. A virtual slot goes wherever a slot does (the resolution chain, a scope's slot table), so
//! exactly-once creation and cycle detection work per key with the same machinery as for any
//! other registration. A singleton's virtual slot has its own [`OnceCell`].
//!
//! The virtual slots live in a `DashMap` keyed by a hash of (slot, key), each entry a small
//! immutable bucket. No user code runs under its locks: the key's `Hash` runs before any lock,
//! a lookup clones the bucket's `Arc` under one shard's read lock and compares keys (`Eq`) after
//! releasing it, and a new key is cloned before the insert, which under the shard's write lock
//! only checks that the bucket it searched is still the current one (by pointer) and appends.

use std::any::TypeId;
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
    slot: u32,
    pub(crate) key: ServiceKey,
    pub(crate) cell: OnceCell,
}

/// The virtual slots whose (slot, key) hash alike: almost always one.
type Bucket = Arc<[Arc<VirtualSlot>]>;

/// The virtual slots handed out so far.
#[derive(Debug)]
pub(crate) struct PerKey {
    base: u32,
    next: AtomicU32,
    buckets: DashMap<u64, Bucket, FxBuildHasher>,
}

fn mix(slot: u32, key_hash: u64) -> u64 {
    key_hash ^ u64::from(slot).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The entry of `bucket` for `slot` whose key `eq` accepts. Runs the key's `Eq`: never under a lock.
fn find(bucket: &Bucket, slot: u32, eq: &impl Fn(&ServiceKey) -> bool) -> Option<Arc<VirtualSlot>> {
    bucket.iter().find(|v| v.slot == slot && eq(&v.key)).cloned()
}

impl PerKey {
    /// Virtual slots start at `base`: the number of real slots.
    pub(crate) fn new(base: usize) -> Self {
        let base = u32::try_from(base).expect("fewer than 2^32 registrations");
        Self { base, next: AtomicU32::new(base), buckets: DashMap::default() }
    }

    /// The virtual slot for `key` served by `slot`, a registration of `service`; the key is
    /// cloned only the first time it is seen.
    pub(crate) fn virtual_slot<K: crate::key::Key>(&self, slot: u32, service: TypeId, key: &K) -> Arc<VirtualSlot> {
        self.find_or_insert(slot, keyed_hash(service, key), |k| k.matches(key), || ServiceKey::new(key.clone()))
    }

    /// [`virtual_slot`](Self::virtual_slot) for an erased key.
    pub(crate) fn virtual_slot_erased(&self, slot: u32, service: TypeId, key: &ServiceKey) -> Arc<VirtualSlot> {
        self.find_or_insert(slot, key.hash_for(service), |k| k.same_as(key), || key.clone())
    }

    fn find_or_insert(
        &self,
        slot: u32,
        key_hash: u64,
        eq: impl Fn(&ServiceKey) -> bool,
        make: impl FnOnce() -> ServiceKey,
    ) -> Arc<VirtualSlot> {
        let hash = mix(slot, key_hash);
        let mut seen: Option<Bucket> = self.buckets.get(&hash).map(|b| b.clone());
        if let Some(found) = seen.as_ref().and_then(|b| find(b, slot, &eq)) {
            return found;
        }
        // New key: build its entry outside any lock (the key's `Clone` runs here).
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        assert!(id >= self.base, "fewer than 2^32 keys");
        let made = Arc::new(VirtualSlot { id, slot, key: make(), cell: OnceCell::default() });
        loop {
            let current = {
                let mut bucket = self.buckets.entry(hash).or_insert_with(|| Arc::from([]));
                let unchanged = match &seen {
                    Some(seen) => Arc::ptr_eq(seen, &bucket),
                    None => bucket.is_empty(),
                };
                if unchanged {
                    let grown: Bucket = bucket.iter().cloned().chain([made.clone()]).collect();
                    *bucket = grown;
                    return made;
                }
                bucket.clone()
            };
            // Another resolve changed the bucket meanwhile: it may have added this very key.
            if let Some(found) = find(&current, slot, &eq) {
                return found;
            }
            seen = Some(current);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn one_virtual_slot_per_slot_and_key() {
        let per_key = PerKey::new(10);
        let service = TypeId::of::<u8>();
        let a = per_key.virtual_slot(3, service, &"a");
        assert!(a.id >= 10);
        assert!(Arc::ptr_eq(&a, &per_key.virtual_slot(3, service, &"a")));
        assert!(Arc::ptr_eq(&a, &per_key.virtual_slot_erased(3, service, &ServiceKey::new("a"))));
        assert!(!Arc::ptr_eq(&a, &per_key.virtual_slot(3, service, &"b")));
        assert!(!Arc::ptr_eq(&a, &per_key.virtual_slot(4, service, &"a")), "per registration");
        assert!(!Arc::ptr_eq(&a, &per_key.virtual_slot(3, service, &String::from("a"))), "per key type");
    }

    #[test]
    fn racing_inserts_of_one_key_agree() {
        let per_key = Arc::new(PerKey::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let per_key = per_key.clone();
                std::thread::spawn(move || per_key.virtual_slot(0, TypeId::of::<u8>(), &7u64))
            })
            .collect();
        let slots: Vec<_> = handles.into_iter().map(|h| h.join().expect("no panic")).collect();
        assert!(slots.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])), "every thread got the same virtual slot");
    }
}
