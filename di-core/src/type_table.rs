//! `TypeTable`: the map from a service's `TypeId` to its registrations, probed on every
//! unkeyed resolve.
//!
//! Every lookup is one probe, whatever the table's size and however its keys happen to hash:
//! the table is built once, by `build()`, as a perfect hash (the "hash and displace" scheme of
//! PTHash). A key's bucket is picked by the low bits of its hash; each bucket holds a seed,
//! chosen at build time so that `place(hash, seed)` sends the bucket's keys to slots no other key
//! uses. A lookup reads the seed, computes the slot and compares one key. The cost of a resolve
//! therefore does not depend on how many services are registered, nor on which of them collide
//! (with linear probing, a type that landed in a cluster paid two or three probes more).
//!
//! A `TypeId` is already a hash of its type, so its low 64 bits are used as they are (for
//! `TypeId::of::<T>()` they are a compile-time constant). Two types whose 64-bit hashes are equal
//! cannot be separated by any seed; should that ever happen, the later one goes to a small
//! overflow list that a miss scans.

use std::any::TypeId;
use std::hash::{Hash, Hasher};

/// A read-only map from `K` (a `TypeId`; other keys in tests) to `V`.
#[derive(Debug)]
pub(crate) struct TypeTable<V, K = TypeId> {
    /// A power of two long, at most a quarter full: slot `i` holds bucket `i`'s seed and, apart
    /// from that, the entry (of any bucket) placed at `i`.
    slots: Box<[Slot<K, V>]>,
    /// Entries no seed could place: only keys whose 64-bit hash another key shares.
    overflow: Box<[(K, V)]>,
}

#[derive(Debug)]
struct Slot<K, V> {
    seed: u64,
    entry: Option<(K, V)>,
}

/// How many seeds a bucket tries before its keys go to the overflow list. At a quarter full, a
/// bucket of `k` keys fits with a random seed with probability about `(3/4)^k`.
const SEEDS: u64 = 1 << 16;

/// The low 64 bits of a `TypeId`: `TypeId` hashes itself as one `write_u64`.
#[derive(Default)]
struct Bits(u64);

impl Hasher for Bits {
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not how `TypeId` hashes itself today; kept correct (if slower) should that change.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// `key`'s hash, mixed: for `TypeId::of::<T>()` a compile-time constant.
#[inline]
fn hash<K: Hash>(key: &K) -> u64 {
    let mut bits = Bits::default();
    key.hash(&mut bits);
    // A `TypeId`'s bits are already well spread; the mix is for keys that are not (the tests'),
    // and costs nothing where the key is a constant.
    fold(bits.finish(), 0x9e37_79b9_7f4a_7c15)
}

/// The folded multiply: both halves of the 128-bit product, xored (as in foldhash). Every bit
/// of `x` reaches the low bits of the result.
#[inline]
fn fold(x: u64, k: u64) -> u64 {
    let product = u128::from(x) * u128::from(k);
    // Truncation intended: the low half, and the high half shifted down.
    (product as u64) ^ ((product >> 64) as u64)
}

/// Where a key of hash `hash` goes, given its bucket's `seed`. Keys sharing a bucket (equal low
/// bits) spread apart, and a different seed moves them independently.
#[inline]
fn place(hash: u64, seed: u64, mask: usize) -> usize {
    // Truncation intended: the low bits pick the slot.
    fold(hash ^ seed, 0xd6e8_feb8_6659_fd93) as usize & mask
}

/// The `n`th seed to try: 0 first, then spread over 64 bits.
fn seed(n: u64) -> u64 {
    n.wrapping_mul(0xa076_1d64_78bd_642f)
}

impl<V, K: Eq + Hash> TypeTable<V, K> {
    pub(crate) fn new(entries: Vec<(K, V)>) -> Self {
        let len = (entries.len() * 4).next_power_of_two().max(4); // at most a quarter full
        let mask = len - 1;
        let hashes: Vec<u64> = entries.iter().map(|(key, _)| hash(key)).collect();
        let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); len];
        for (at, h) in hashes.iter().enumerate() {
            // Truncation intended: the low bits pick the bucket.
            buckets[*h as usize & mask].push(at);
        }
        // The fullest buckets first, while most slots are free (ties in bucket order: the
        // table is the same for the same keys).
        let mut order: Vec<usize> = (0..len).filter(|&b| !buckets[b].is_empty()).collect();
        order.sort_by_key(|&b| std::cmp::Reverse(buckets[b].len()));

        let mut seeds = vec![0u64; len];
        let mut placed: Vec<Option<usize>> = vec![None; len]; // slot -> entry index
        let mut overflowed = Vec::new();
        let mut spots = Vec::new();
        for bucket in order {
            let members = &buckets[bucket];
            let fits = (0..SEEDS).map(seed).find(|&s| {
                spots.clear();
                members.iter().all(|&at| {
                    let spot = place(hashes[at], s, mask);
                    let free = placed[spot].is_none() && !spots.contains(&spot);
                    spots.push(spot);
                    free
                })
            });
            match fits {
                Some(s) => {
                    seeds[bucket] = s;
                    for &at in members {
                        placed[place(hashes[at], s, mask)] = Some(at);
                    }
                }
                None => overflowed.extend_from_slice(members),
            }
        }

        let mut entries: Vec<Option<(K, V)>> = entries.into_iter().map(Some).collect();
        let slots = seeds
            .into_iter()
            .zip(placed)
            .map(|(seed, at)| Slot { seed, entry: at.and_then(|at| entries[at].take()) })
            .collect();
        let overflow = overflowed.into_iter().filter_map(|at| entries[at].take()).collect();
        Self { slots, overflow }
    }

    /// The slot `key` would be in.
    #[inline]
    fn spot(&self, key: &K) -> usize {
        // The mask from the length (a power of two): one load fewer, and the bounds checks fold.
        let mask = self.slots.len().wrapping_sub(1);
        let h = hash(key);
        // Truncation intended: the low bits pick the bucket.
        let seed = self.slots.get(h as usize & mask).map_or(0, |bucket| bucket.seed);
        place(h, seed, mask)
    }

    /// The entry in the slot `key` would be in, *not checked* to be `key`'s: the caller compares
    /// the key, or checks what it reads from the value some other way (a cached instance's own
    /// type). `None` only says the slot is empty; [`get`](Self::get) is the lookup.
    #[inline]
    pub(crate) fn probe(&self, key: &K) -> Option<&(K, V)> {
        self.slots.get(self.spot(key))?.entry.as_ref()
    }

    #[inline]
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        match self.probe(key) {
            Some((k, value)) if k == key => Some(value),
            _ => self.overflowed(key),
        }
    }

    /// A miss's last resort: the overflow list, empty unless two keys' hashes were equal.
    #[cold]
    fn overflowed(&self, key: &K) -> Option<&V> {
        self.overflow.iter().find(|(k, _)| k == key).map(|(_, value)| value)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Where `key`'s entry is, for [`at`](Self::at): a position that never changes (past the
    /// slots for an overflowed entry).
    pub(crate) fn position(&self, key: &K) -> Option<usize> {
        let spot = self.spot(key);
        if self.slots.get(spot)?.entry.as_ref().is_some_and(|(k, _)| k == key) {
            return Some(spot);
        }
        self.overflow.iter().position(|(k, _)| k == key).map(|at| self.slots.len() + at)
    }

    /// The entry at `position`, if there is one.
    #[inline]
    pub(crate) fn at(&self, position: usize) -> Option<&V> {
        match self.slots.get(position) {
            Some(slot) => slot.entry.as_ref().map(|(_, value)| value),
            None => self.overflow.get(position - self.slots.len()).map(|(_, value)| value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_every_entry_and_nothing_else() {
        let ids = [TypeId::of::<u8>(), TypeId::of::<u16>(), TypeId::of::<String>(), TypeId::of::<dyn std::any::Any>()];
        let table = TypeTable::new(ids.iter().copied().zip(0..).collect());
        for (id, n) in ids.iter().zip(0..) {
            assert_eq!(table.get(id), Some(&n));
        }
        assert_eq!(table.get(&TypeId::of::<u32>()), None);
        let at = table.position(&TypeId::of::<String>()).expect("present");
        assert_eq!(table.at(at), Some(&2));
        assert!(TypeTable::<()>::new(Vec::new()).get(&TypeId::of::<u8>()).is_none());
    }

    /// A key whose hash the test picks: `hash` collisions on demand.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Key {
        hash: u64,
        id: u32,
    }

    impl Hash for Key {
        fn hash<H: Hasher>(&self, state: &mut H) {
            state.write_u64(self.hash);
        }
    }

    fn keys(hashes: &[u64]) -> Vec<(Key, u32)> {
        (0u32..).zip(hashes).map(|(id, &hash)| (Key { hash, id }, id)).collect()
    }

    #[test]
    fn keys_sharing_a_bucket_are_each_one_probe_away() {
        // Equal low bits: one bucket of eight in a table of 32 slots.
        let hashes: Vec<u64> = (1..=8u64).map(|n| n << 40).collect();
        let table = TypeTable::new(keys(&hashes));
        assert!(table.overflow.is_empty());
        for (key, id) in keys(&hashes) {
            assert_eq!(table.probe(&key).map(|(k, v)| (*k, *v)), Some((key, id)), "one probe finds {key:?}");
        }
    }

    #[test]
    fn equal_hashes_overflow_and_are_still_found() {
        let table = TypeTable::new(keys(&[7, 7, 7, 9]));
        assert_eq!(table.overflow.len(), 3, "no seed separates equal hashes: the bucket overflows");
        for (key, id) in keys(&[7, 7, 7, 9]) {
            assert_eq!(table.get(&key), Some(&id));
        }
        assert_eq!(table.get(&Key { hash: 7, id: 99 }), None);
        for (key, id) in keys(&[7, 7, 7, 9]) {
            // The position of an overflowed entry leads to it too: one cell per singleton.
            let at = table.position(&key).expect("present");
            assert_eq!(table.at(at), Some(&id));
        }
        assert_eq!(table.position(&Key { hash: 7, id: 99 }), None);
    }

    proptest! {
        /// Every key is where one probe looks, every absent key is missed, for any set of hashes
        /// (low-entropy ones included: few distinct low bits make full buckets).
        #[test]
        fn one_probe_per_key(raw in proptest::collection::hash_set(any::<u64>(), 0..200), shift in 0u32..8) {
            // Shifted left, keys share more low bits: fuller buckets (and, rarely, equal hashes).
            let hashes: Vec<u64> = raw.into_iter().map(|h| h << shift).collect();
            let table = TypeTable::new(keys(&hashes));
            for (key, id) in keys(&hashes) {
                prop_assert_eq!(table.get(&key), Some(&id));
                if !table.overflow.iter().any(|(k, _)| *k == key) {
                    prop_assert_eq!(table.probe(&key).map(|(k, _)| *k), Some(key));
                }
                let at = table.position(&key).expect("present");
                prop_assert_eq!(table.at(at), Some(&id));
            }
            prop_assert!(table.overflow.len() <= hashes.len() / 2, "only colliding buckets overflow");
            prop_assert_eq!(table.get(&Key { hash: 3, id: u32::MAX }), None);
        }
    }
}
