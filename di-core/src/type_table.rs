//! `TypeTable`: the map from a service's `TypeId` to its registrations, probed on every
//! unkeyed resolve.
//!
//! A `TypeId` is already a hash of its type, so the table uses it as is (for `TypeId::of::<T>()`
//! the index is a compile-time constant) and probes linearly in a table at most a quarter full: a
//! lookup is an index, a 128-bit compare and a load, about a third of a general-purpose hash
//! map's probe. It is built once, by `build()`, and never changes.

use std::any::TypeId;
use std::hash::{Hash, Hasher};

/// A read-only map from `TypeId` to `V`.
#[derive(Debug)]
pub(crate) struct TypeTable<V> {
    /// A power of two long.
    slots: Box<[Option<(TypeId, V)>]>,
}

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

#[inline]
fn index(id: &TypeId) -> usize {
    let mut bits = Bits::default();
    id.hash(&mut bits);
    // Truncation intended: only the low bits pick a slot.
    bits.finish() as usize
}

impl<V> TypeTable<V> {
    pub(crate) fn new(entries: Vec<(TypeId, V)>) -> Self {
        let len = (entries.len() * 4).next_power_of_two().max(4); // at most a quarter full
        let mask = len - 1;
        let mut slots: Vec<Option<(TypeId, V)>> = std::iter::repeat_with(|| None).take(len).collect();
        for (id, value) in entries {
            let mut i = index(&id) & mask;
            while slots[i].is_some() {
                i = (i + 1) & mask;
            }
            slots[i] = Some((id, value));
        }
        Self { slots: slots.into() }
    }

    #[inline]
    pub(crate) fn get(&self, id: &TypeId) -> Option<&V> {
        self.find(id).map(|(_, value)| value)
    }

    /// `id`'s position and entry: the one probe loop `get` and `position` share.
    #[inline]
    fn find(&self, id: &TypeId) -> Option<(usize, &V)> {
        // The mask from the length (a power of two): one load fewer, and the bounds check folds.
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = index(id) & mask;
        loop {
            match self.slots.get(i)? {
                Some((key, value)) if key == id => return Some((i, value)),
                Some(_) => i = (i + 1) & mask,
                None => return None,
            }
        }
    }

    pub(crate) fn contains_key(&self, id: &TypeId) -> bool {
        self.get(id).is_some()
    }

    /// Where `id`'s entry is, for [`at`](Self::at): a position that never changes.
    pub(crate) fn position(&self, id: &TypeId) -> Option<usize> {
        self.find(id).map(|(position, _)| position)
    }

    /// The entry at `position`, if there is one.
    #[inline]
    pub(crate) fn at(&self, position: usize) -> Option<&V> {
        self.slots.get(position)?.as_ref().map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
