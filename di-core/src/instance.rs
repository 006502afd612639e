//! [`Instance`]: a created service, type-erased without a second allocation.
//!
//! The container caches a service as the `Arc<T>` its factory returned, for any `T` (unsized
//! ones such as `dyn Trait` included). Erasing it as `Arc<dyn Any>` would box that `Arc<T>` in
//! a second reference-counted block, and every typed read would ask the box its type through a
//! virtual call. An `Instance` instead keeps the `Arc<T>` itself, in two words of inline storage
//! (an `Arc<T>` is one pointer, or two for an unsized `T`), next to a static table of `T`'s
//! `TypeId` and its clone and drop functions: a typed read compares the `TypeId` inline and
//! borrows the stored `Arc<T>`.

// The only `unsafe` in the crate: the reads below are checked against the stored `TypeId`.
#![allow(unsafe_code, reason = "type-erased storage of an `Arc<T>`; every block states why it is sound")]

use std::any::{Any, TypeId};
use std::fmt;
use std::mem::{MaybeUninit, align_of, size_of};
use std::sync::Arc;

/// Room for an `Arc<T>`: a thin or a fat pointer.
type Storage = MaybeUninit<[usize; 2]>;

/// What an [`Instance`] knows about the `T` of the `Arc<T>` it holds.
struct VTable {
    /// `TypeId::of::<T>()`.
    type_id: TypeId,
    /// Clones the stored `Arc<T>` into a new storage.
    clone: unsafe fn(&Storage) -> Storage,
    /// Drops the stored `Arc<T>`.
    drop: unsafe fn(&mut Storage),
    /// The stored `Arc<T>`, as `&dyn Any` (for disposal hooks).
    as_any: unsafe fn(&Storage) -> &(dyn Any + Send + Sync),
}

/// A created service: the `Arc<T>` a factory returned (or the user registered), type-erased.
pub(crate) struct Instance {
    /// Initialised with an `Arc<T>` whose `T` is described by `vtable`.
    storage: Storage,
    vtable: &'static VTable,
}

const _: () = assert!(size_of::<Instance>() == 3 * size_of::<usize>());

/// The static table of `T`.
struct Table<T: ?Sized>(std::marker::PhantomData<fn() -> Box<T>>);

impl<T: ?Sized + Send + Sync + 'static> Table<T> {
    /// An `Arc<T>` fits the storage; checked where `T` is first known (`Instance::new`).
    const FITS: () = assert!(
        size_of::<Arc<T>>() <= size_of::<Storage>() && align_of::<Arc<T>>() <= align_of::<Storage>(),
        "an `Arc<T>` is at most two pointers"
    );

    const VTABLE: VTable =
        VTable { type_id: TypeId::of::<T>(), clone: Self::clone, drop: Self::drop, as_any: Self::as_any };

    /// # Safety
    /// `storage` holds an `Arc<T>`.
    unsafe fn clone(storage: &Storage) -> Storage {
        // SAFETY: forwarded from the caller.
        store(unsafe { get::<T>(storage) }.clone())
    }

    /// # Safety
    /// `storage` holds an `Arc<T>`, which is not used again.
    unsafe fn drop(storage: &mut Storage) {
        // SAFETY: the caller guarantees an initialised `Arc<T>` that nobody reads afterwards, so
        // it is dropped exactly once.
        unsafe { storage.as_mut_ptr().cast::<Arc<T>>().drop_in_place() }
    }

    /// # Safety
    /// `storage` holds an `Arc<T>`.
    unsafe fn as_any(storage: &Storage) -> &(dyn Any + Send + Sync) {
        // SAFETY: forwarded from the caller.
        unsafe { get::<T>(storage) }
    }
}

/// The `Arc<T>` in `storage`.
///
/// # Safety
/// `storage` holds an `Arc<T>`.
#[inline(always)]
unsafe fn get<T: ?Sized>(storage: &Storage) -> &Arc<T> {
    // SAFETY: the caller guarantees an initialised `Arc<T>` at the start of `storage` (it was
    // written there by `store`, which checks it fits); the borrow is tied to `storage`'s.
    unsafe { &*storage.as_ptr().cast::<Arc<T>>() }
}

/// Moves an `Arc<T>` into a new storage.
#[inline]
fn store<T: ?Sized + Send + Sync + 'static>(arc: Arc<T>) -> Storage {
    let () = Table::<T>::FITS;
    let mut storage = Storage::uninit();
    // SAFETY: `FITS` shows an `Arc<T>` fits `storage`'s size and alignment; the write moves
    // `arc` in, so it is owned by the storage from here on.
    unsafe { storage.as_mut_ptr().cast::<Arc<T>>().write(arc) };
    storage
}

impl Instance {
    /// Erases `arc`, keeping it as is (no allocation).
    #[inline]
    pub(crate) fn new<T: ?Sized + Send + Sync + 'static>(arc: Arc<T>) -> Self {
        Self { storage: store(arc), vtable: &Table::<T>::VTABLE }
    }

    /// The stored `Arc<T>`, if this instance holds a `T`: a `TypeId` compare, no call.
    #[inline(always)]
    pub(crate) fn downcast_ref<T: ?Sized + 'static>(&self) -> Option<&Arc<T>> {
        if self.vtable.type_id == TypeId::of::<T>() {
            // SAFETY: `vtable` is `Table::<U>::VTABLE` for the `U` whose `Arc<U>` is stored
            // (`new` sets both together and nothing changes them); equal `TypeId`s mean `U` is `T`.
            Some(unsafe { get::<T>(&self.storage) })
        } else {
            None
        }
    }

    /// The stored `Arc<T>` itself, if this instance holds a `T`: moved out, so no reference
    /// count changes (a fresh instance goes to its caller without a clone and a drop).
    #[inline(always)]
    pub(crate) fn into_arc<T: ?Sized + 'static>(self) -> Result<Arc<T>, Self> {
        if self.vtable.type_id != TypeId::of::<T>() {
            return Err(self);
        }
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: as in `downcast_ref`, the storage holds an `Arc<T>`; it is read once, and
        // `this` is never dropped, so ownership moves to the returned `Arc<T>`.
        Ok(unsafe { this.storage.as_ptr().cast::<Arc<T>>().read() })
    }

    /// The stored `Arc<T>`, as `&dyn Any` (an `&Arc<T>` underneath): what disposal hooks take.
    #[inline]
    pub(crate) fn as_any(&self) -> &(dyn Any + Send + Sync) {
        // SAFETY: `vtable` describes the stored `Arc` (see `downcast_ref`).
        unsafe { (self.vtable.as_any)(&self.storage) }
    }
}

impl Clone for Instance {
    #[inline]
    fn clone(&self) -> Self {
        // SAFETY: `vtable` describes the stored `Arc` (see `downcast_ref`).
        Self { storage: unsafe { (self.vtable.clone)(&self.storage) }, vtable: self.vtable }
    }
}

impl Drop for Instance {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `vtable` describes the stored `Arc`, and `self` is not used after `drop`.
        unsafe { (self.vtable.drop)(&mut self.storage) }
    }
}

// SAFETY: an `Instance` is an `Arc<T>` with `T: Send + Sync` (the bound on `new`), and such an
// `Arc<T>` is `Send` and `Sync`; the vtable is immutable static data.
unsafe impl Send for Instance {}
// SAFETY: as for `Send`.
unsafe impl Sync for Instance {}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance").field("type_id", &self.vtable.type_id).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    struct Counted(u32);
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    trait Named: Send + Sync {
        fn name(&self) -> &'static str;
    }
    struct Db;
    impl Named for Db {
        fn name(&self) -> &'static str {
            "db"
        }
    }

    #[test]
    fn sized_round_trip_clone_and_drop() {
        let arc = Arc::new(Counted(7));
        let instance = Instance::new(arc.clone());
        assert_eq!(Arc::strong_count(&arc), 2, "stored as is, not copied or wrapped");
        let copy = instance.clone();
        assert_eq!(Arc::strong_count(&arc), 3);
        let back = copy.downcast_ref::<Counted>().expect("same type");
        assert!(Arc::ptr_eq(back, &arc));
        assert_eq!(back.0, 7);
        drop(copy);
        drop(instance);
        assert_eq!(Arc::strong_count(&arc), 1);
        let before = DROPS.load(Ordering::SeqCst);
        drop(arc);
        assert_eq!(DROPS.load(Ordering::SeqCst), before + 1, "the service is dropped once");
    }

    #[test]
    fn unsized_round_trip() {
        let arc: Arc<dyn Named> = Arc::new(Db);
        let instance = Instance::new(arc.clone());
        let copy = instance.clone();
        let back = copy.downcast_ref::<dyn Named>().cloned().expect("same type");
        drop(copy);
        assert!(Arc::ptr_eq(&back, &arc));
        assert_eq!(back.name(), "db");
        assert!(instance.downcast_ref::<Db>().is_none(), "`dyn Named` is not `Db`");
        drop(instance);
        drop(back);
        assert_eq!(Arc::strong_count(&arc), 1);

        let text: Arc<str> = Arc::from("hello");
        let instance = Instance::new(text.clone());
        assert_eq!(&**instance.downcast_ref::<str>().expect("same type"), "hello");
        drop(instance);
        assert_eq!(Arc::strong_count(&text), 1);
    }

    #[test]
    fn into_arc_moves_the_arc_out() {
        let arc: Arc<dyn Named> = Arc::new(Db);
        let instance = Instance::new(arc.clone());
        let instance = instance.into_arc::<Db>().err().expect("`dyn Named` is not `Db`");
        assert_eq!(Arc::strong_count(&arc), 2);
        let back = instance.into_arc::<dyn Named>().expect("same type");
        assert!(Arc::ptr_eq(&back, &arc));
        assert_eq!(Arc::strong_count(&arc), 2, "moved, not cloned");
        drop(back);
        assert_eq!(Arc::strong_count(&arc), 1);
    }

    #[test]
    fn wrong_type_is_none() {
        let instance = Instance::new(Arc::new(1u32));
        assert!(instance.downcast_ref::<u64>().is_none());
        assert!(instance.downcast_ref::<i32>().is_none());
        assert!(instance.downcast_ref::<dyn Named>().is_none());
        assert_eq!(**instance.downcast_ref::<u32>().expect("same type"), 1);
    }

    #[test]
    fn as_any_is_the_arc() {
        let arc: Arc<dyn Named> = Arc::new(Db);
        let instance = Instance::new(arc.clone());
        let any = instance.as_any().downcast_ref::<Arc<dyn Named>>().expect("an `Arc<dyn Named>`");
        assert!(Arc::ptr_eq(any, &arc));
    }

    #[test]
    fn shared_across_threads() {
        let instance = Instance::new(Arc::new(5u8));
        let copy = instance.clone();
        let seen = std::thread::spawn(move || **copy.downcast_ref::<u8>().expect("same type")).join();
        assert_eq!(seen.ok(), Some(5));
        assert_eq!(**instance.downcast_ref::<u8>().expect("same type"), 5);
    }
}
