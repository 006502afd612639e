//! The built container: registrations by slot, the lookup tables, the singleton cells, the root
//! scope. Shared by the root and every scope; never changes after `build()`, except for the
//! cells it owns.

use std::any::{TypeId, type_name};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};

use hashbrown::HashTable;
use rustc_hash::FxHashMap;

use crate::descriptor::{Dependency, Descriptor, Factory, Instance};
use crate::error::{BuildError, ResolutionPath, ResolveError, ValidationError};
use crate::key::{AnyKey, ServiceKey, keyed_hash};
use crate::lifetime::Lifetime;
use crate::options::ProviderOptions;
use crate::provider::ServiceProvider;
use crate::resolve::chain::Creation;
use crate::resolve::once::OnceCell;
use crate::resolve::per_key::{PerKey, VirtualSlot};
use crate::resolve::waits::WaitGraph;
use crate::scope::{Scope, ScopeFactory, ScopeState};
use crate::sync::{AtomicU64, Ordering};
use crate::type_table::TypeTable;

/// The registrations of one service type (and key), by slot.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The slot a single resolve uses: the last registration.
    pub(crate) last: u32,
    /// Where every slot, in registration order, is in [`Core`]'s `lists`, for
    /// `resolve::<Vec<Arc<T>>>()` (see [`Core::slots_of`]). A range, not a boxed slice: it
    /// keeps an unkeyed entry, cell included, at 64 bytes. `to` is never 0 (an entry has a
    /// slot), which leaves the type table's `Option` of an entry a niche instead of a tag.
    from: u32,
    to: NonZeroU32,
}

/// An unkeyed entry, with the singleton cell of its last registration in it: a cached
/// singleton resolve is the table probe and this one load.
#[derive(Debug)]
pub(crate) struct Unkeyed {
    pub(crate) entry: Entry,
    pub(crate) cell: OnceCell,
}

// Its slot in the type table, key and seed included, is then 88 bytes: indexed with one
// multiply (96 would take two instructions on every lookup).
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Unkeyed>() == 64);
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Option<(TypeId, Unkeyed)>>() == 80);

/// A slot's singleton cell: its own, or (the last registration of an unkeyed type) the one in
/// that type's [`Unkeyed`] entry, at this position of the type table. One cell either way.
#[derive(Debug)]
enum SlotCell {
    Own(OnceCell),
    Unkeyed(usize),
}

#[derive(Debug)]
struct KeyedEntry {
    service: TypeId,
    key: ServiceKey,
    hash: u64,
    entry: Entry,
}

/// The slots of one (type, key) while a provider is built, in registration order: the first
/// inline, so the usual lone registration allocates nothing.
struct Slots {
    first: u32,
    rest: Vec<u32>,
}

impl Slots {
    fn one(slot: u32) -> Self {
        Self { first: slot, rest: Vec::new() }
    }

    fn push(&mut self, slot: u32) {
        self.rest.push(slot);
    }

    fn last(&self) -> u32 {
        self.rest.last().copied().unwrap_or(self.first)
    }
}

/// Everything a built provider shares between the root and its scopes.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) descriptors: Box<[Descriptor]>,
    unkeyed: TypeTable<Unkeyed>,
    keyed: HashTable<KeyedEntry>,
    /// Every keyed slot of a type whose key is not `AnyKey`, in registration order: what
    /// `keyed(&AnyKey).resolve::<Vec<Arc<T>>>()` lists.
    listed: FxHashMap<TypeId, Box<[u32]>>,
    /// Every entry's slots, one run per entry (see [`Entry`]).
    lists: Box<[u32]>,
    /// The keys `AnyKey` registrations have served.
    pub(crate) per_key: PerKey,
    /// One cell per slot; only singleton slots are ever filled.
    singletons: Box<[SlotCell]>,
    /// The root scope: what singletons (and root-resolved scoped services, with scope
    /// validation off) belong to. The container is disposed when it is.
    pub(crate) root: Arc<ScopeState>,
    pub(crate) options: ProviderOptions,
    pub(crate) waits: WaitGraph,
    next_creation: AtomicU64,
    pub(crate) scope_factory: Arc<ScopeFactory>,
}

impl Core {
    pub(crate) fn build(mut descriptors: Vec<Descriptor>, options: ProviderOptions) -> Result<Arc<Self>, BuildError> {
        // Built-ins go first so a user registration of the same type wins a single resolve.
        let builtins = [
            builtin::<ServiceProvider>(Lifetime::Transient, Factory::Provider),
            builtin::<ScopeFactory>(Lifetime::Singleton, Factory::Scopes),
        ];
        descriptors.splice(0..0, builtins);

        // A shared instance under another lifetime is a registration mistake, not a graph
        // problem: rejected even when graph validation is off.
        let mut problems: Vec<ValidationError> = descriptors
            .iter()
            .filter(|d| matches!(d.factory, Factory::Instance(_)) && d.lifetime != Lifetime::Singleton)
            .map(|d| ValidationError::InstanceNotSingleton {
                service: d.name,
                lifetime: d.lifetime,
                path: ResolutionPath::new(vec![d.name]),
            })
            .collect();
        if options.validates_on_build() {
            problems.extend(crate::validate::validate(&descriptors, options));
        }
        if !problems.is_empty() {
            return Err(BuildError::Invalid { problems });
        }

        let mut unkeyed: FxHashMap<TypeId, Slots> = FxHashMap::default();
        let mut listed: FxHashMap<TypeId, Vec<u32>> = FxHashMap::default();
        // Group slots by (type) and by (type, key), keeping registration order within a group.
        let mut keyed: HashTable<(TypeId, ServiceKey, u64, Slots)> = HashTable::new();
        for (slot, d) in descriptors.iter().enumerate() {
            let slot = u32::try_from(slot).expect("fewer than 2^32 registrations");
            match &d.key {
                None => {
                    unkeyed.entry(d.service).and_modify(|slots| slots.push(slot)).or_insert_with(|| Slots::one(slot));
                }
                Some(k) => {
                    if !k.is_any() {
                        listed.entry(d.service).or_default().push(slot);
                    }
                    let hash = k.hash_for(d.service);
                    match keyed.find_mut(hash, |(s, key, _, _)| *s == d.service && key.same_as(k)) {
                        Some((_, _, _, slots)) => slots.push(slot),
                        None => {
                            keyed.insert_unique(hash, (d.service, k.clone(), hash, Slots::one(slot)), |e| e.2);
                        }
                    }
                }
            }
        }
        // An alias resolves the registration a resolve of its target's type and key would use.
        for d in &mut descriptors {
            if let Factory::Alias(alias) = &mut d.factory {
                let target = &alias.target;
                alias.slot = match &target.key {
                    None => unkeyed.get(&target.service).map(Slots::last),
                    Some(k) => keyed
                        .find(k.hash_for(target.service), |(s, key, _, _)| *s == target.service && key.same_as(k))
                        .map(|(_, _, _, slots)| slots.last()),
                };
            }
        }
        let mut lists: Vec<u32> = Vec::with_capacity(descriptors.len());
        let mut entry = |first: u32, rest: &[u32]| {
            let from = u32::try_from(lists.len()).expect("fewer than 2^32 registrations");
            lists.push(first);
            lists.extend_from_slice(rest);
            let to = u32::try_from(lists.len()).ok().and_then(NonZeroU32::new).expect("a slot, and fewer than 2^32");
            Entry { last: rest.last().copied().unwrap_or(first), from, to }
        };
        let listed = listed.into_iter().map(|(t, slots)| (t, slots.into())).collect();
        let per_key = PerKey::new(descriptors.len());
        let mut table = HashTable::with_capacity(keyed.len());
        for (service, key, hash, slots) in keyed {
            let entry = entry(slots.first, &slots.rest);
            table.insert_unique(hash, KeyedEntry { service, key, hash, entry }, |e| e.hash);
        }
        let unkeyed: Vec<(TypeId, Entry)> =
            unkeyed.into_iter().map(|(t, slots)| (t, entry(slots.first, &slots.rest))).collect();

        Ok(Arc::new_cyclic(|weak: &Weak<Self>| {
            let scope_factory = Arc::new(ScopeFactory::new(weak.clone()));
            let cell_of = |d: &Descriptor| match &d.factory {
                Factory::Instance(i) => OnceCell::filled(i.clone()),
                Factory::Scopes => OnceCell::filled(Instance::new(scope_factory.clone())),
                _ => OnceCell::default(),
            };
            let unkeyed = TypeTable::new(
                unkeyed
                    .into_iter()
                    .map(|(t, entry)| {
                        let cell = cell_of(&descriptors[entry.last as usize]);
                        (t, Unkeyed { entry, cell })
                    })
                    .collect(),
            );
            let singletons = (0u32..)
                .zip(&descriptors)
                .map(|(slot, d)| match unkeyed.position(&d.service) {
                    Some(at) if d.key.is_none() && unkeyed.at(at).is_some_and(|u| u.entry.last == slot) => {
                        SlotCell::Unkeyed(at)
                    }
                    _ => SlotCell::Own(cell_of(d)),
                })
                .collect();
            Self {
                descriptors: descriptors.into(),
                unkeyed,
                keyed: table,
                listed,
                lists: lists.into(),
                per_key,
                singletons,
                root: Arc::new(ScopeState::new(true)),
                options,
                waits: WaitGraph::default(),
                next_creation: AtomicU64::new(1),
                scope_factory,
            }
        }))
    }

    #[inline]
    pub(crate) fn is_disposed(&self) -> bool {
        self.root.is_disposed()
    }

    pub(crate) fn create_scope(core: &Arc<Self>) -> Result<Scope, ResolveError> {
        if core.is_disposed() {
            return Err(ResolveError::Disposed { service: "di_core::Scope", scope: crate::error::DisposedScope::Root });
        }
        Ok(Scope::new(core.clone()))
    }

    /// A fresh creation identity.
    #[inline]
    pub(crate) fn new_creation(&self) -> Creation {
        self.next_creation.fetch_add(1, Ordering::Relaxed)
    }

    /// The singleton cell of `slot`.
    #[inline]
    pub(crate) fn cell(&self, slot: u32) -> &OnceCell {
        match &self.singletons[slot as usize] {
            SlotCell::Own(cell) => cell,
            SlotCell::Unkeyed(at) => &self.unkeyed.at(*at).expect("the position of an entry").cell,
        }
    }

    #[inline]
    pub(crate) fn unkeyed<T: ?Sized + 'static>(&self) -> Option<&Unkeyed> {
        self.unkeyed.get(&TypeId::of::<T>())
    }

    /// The entry in the slot of `T`'s, not checked to be `T`'s: see [`cached`](Self::cached)
    /// and [`found`](Self::found).
    #[inline(always)]
    pub(crate) fn probe<T: ?Sized + 'static>(&self) -> Option<&(TypeId, Unkeyed)> {
        self.unkeyed.probe(&TypeId::of::<T>())
    }

    /// The cached singleton of `T` in a `probe`d entry: no key compare. The entry may be
    /// another type's; a cell only ever holds instances of its own service type, so the
    /// instance's type check (which the downcast makes anyway) is the key check.
    #[inline(always)]
    pub(crate) fn cached<T: ?Sized + 'static>(probed: Option<&(TypeId, Unkeyed)>) -> Option<&Arc<T>> {
        probed?.1.cell.get()?.downcast_ref::<T>()
    }

    /// `T`'s entry, if the `probe`d one is `T`'s (`None` sends the caller to the full lookup).
    #[inline(always)]
    pub(crate) fn found<T: ?Sized + 'static>(probed: Option<&(TypeId, Unkeyed)>) -> Option<&Unkeyed> {
        probed.filter(|(id, _)| *id == TypeId::of::<T>()).map(|(_, unkeyed)| unkeyed)
    }

    pub(crate) fn has_unkeyed<T: ?Sized + 'static>(&self) -> bool {
        self.unkeyed.contains_key(&TypeId::of::<T>())
    }

    /// The slot a single resolve of a declared dependency would use, with the virtual slot
    /// when an `AnyKey` registration serves its key.
    pub(crate) fn slot_of(&self, dep: &Dependency) -> Option<(u32, Option<Arc<VirtualSlot>>)> {
        let Some(key) = &dep.key else { return self.unkeyed.get(&dep.service).map(|u| (u.entry.last, None)) };
        if key.is_any() {
            return None; // an error at resolve time; nothing to prefetch
        }
        let find = |key: &ServiceKey| {
            self.keyed.find(key.hash_for(dep.service), |e| e.service == dep.service && e.key.same_as(key))
        };
        if let Some(e) = find(key) {
            return Some((e.entry.last, None));
        }
        let slot = find(&ServiceKey::new(AnyKey))?.entry.last;
        Some((slot, Some(self.per_key.virtual_slot_erased(slot, dep.service, key))))
    }

    /// The `AnyKey` registration of `T` that serves `key`, and its virtual slot; `None` if `T`
    /// has none. Only called once an exact lookup missed.
    pub(crate) fn fallback<T, K>(&self, key: &K) -> Option<(u32, Arc<VirtualSlot>)>
    where
        T: ?Sized + 'static,
        K: crate::key::Key,
    {
        self.find_keyed::<T, AnyKey>(&AnyKey)
            .map(|e| (e.last, self.per_key.virtual_slot(e.last, TypeId::of::<T>(), key)))
    }

    /// The slots `keyed(key).resolve::<Vec<Arc<T>>>()` resolves.
    pub(crate) fn all_keyed<T: ?Sized + 'static, K: Eq + Hash + 'static>(&self, key: &K) -> Option<&[u32]> {
        if is_any_key::<K>() {
            return self.listed.get(&TypeId::of::<T>()).map(|s| &**s);
        }
        self.find_keyed::<T, K>(key).map(|e| self.slots_of(e))
    }

    /// Every slot of `entry`, in registration order.
    #[inline]
    pub(crate) fn slots_of(&self, entry: &Entry) -> &[u32] {
        &self.lists[entry.from as usize..entry.to.get() as usize]
    }

    pub(crate) fn find_keyed<T: ?Sized + 'static, K: Eq + Hash + 'static>(&self, key: &K) -> Option<&Entry> {
        let service = TypeId::of::<T>();
        self.keyed.find(keyed_hash(service, key), |e| e.service == service && e.key.matches(key)).map(|e| &e.entry)
    }

    /// Whether `keyed(&AnyKey).resolve::<Vec<Arc<T>>>()` lists anything.
    pub(crate) fn lists_keyed<T: ?Sized + 'static>(&self) -> bool {
        self.listed.contains_key(&TypeId::of::<T>())
    }
}

/// Whether `K` is [`AnyKey`]; known at compile time.
#[inline(always)]
pub(crate) fn is_any_key<K: 'static>() -> bool {
    TypeId::of::<K>() == TypeId::of::<AnyKey>()
}

fn builtin<T: 'static>(lifetime: Lifetime, factory: Factory) -> Descriptor {
    Descriptor {
        service: TypeId::of::<T>(),
        name: type_name::<T>(),
        implementation: TypeId::of::<T>(),
        implementation_name: None,
        key: None,
        lifetime,
        factory,
        sync_hook: None,
        async_hook: None,
        lifetime_fixed: false,
        dependencies: Vec::new(),
    }
}
