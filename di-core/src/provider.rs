//! `ServiceProvider`: the built container, and the handle every resolve goes through.

use std::any::{TypeId, type_name};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use hashbrown::HashTable;
use rustc_hash::FxHashMap;

use crate::collection::downcast;
use crate::descriptor::{Descriptor, Factory, Instance};
use crate::error::{BuildError, DisposeError, ResolutionPath, ResolveError};
use crate::key::{AnyKey, ServiceKey, describe_key, keyed_hash};
use crate::lifetime::Lifetime;
use crate::options::ProviderOptions;
use crate::resolve::Target;
use crate::resolve::cell::{Cell, Inits};
use crate::resolve::chain::Chain;
use crate::resolve::per_key::{PerKey, VirtualSlot};
use crate::scope::{Scope, ScopeFactory, ScopeState};

/// The registrations of one service type (and key), by slot.
pub(crate) struct Entry {
    /// The slot a single resolve uses: the last registration.
    pub(crate) last: u32,
    /// Every slot, in registration order, for `get_all`.
    pub(crate) all: Box<[u32]>,
}

pub(crate) struct KeyedEntry {
    service: TypeId,
    key: ServiceKey,
    hash: u64,
    pub(crate) entry: Entry,
}

/// Everything a built provider shares between the root and its scopes.
pub(crate) struct Core {
    pub(crate) descriptors: Box<[Descriptor]>,
    unkeyed: FxHashMap<TypeId, Entry>,
    keyed: HashTable<KeyedEntry>,
    /// Every keyed slot of a type whose key is not `AnyKey`, in registration order: what
    /// `get_all_keyed(&AnyKey)` lists.
    listed: FxHashMap<TypeId, Box<[u32]>>,
    /// The keys `AnyKey` registrations have served.
    pub(crate) per_key: PerKey,
    /// One cell per slot; only singleton slots are ever filled.
    pub(crate) singletons: Box<[Cell]>,
    pub(crate) root: Arc<ScopeState>,
    pub(crate) options: ProviderOptions,
    pub(crate) inits: Inits,
    disposed: AtomicBool,
    pub(crate) scope_factory: Arc<ScopeFactory>,
}

impl Core {
    #[inline]
    pub(crate) fn is_disposed(&self) -> bool {
        self.disposed.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn create_scope(core: &Arc<Self>) -> Result<Scope, ResolveError> {
        if core.is_disposed() {
            return Err(ResolveError::Disposed { service: "di_core::Scope", what: "service provider" });
        }
        let state = Arc::new(ScopeState::new(false));
        Ok(Scope::new(ServiceProvider { core: CoreRef::Strong(core.clone()), scope: state, chain: None }))
    }

    /// The slot a single resolve of a declared dependency would use, with the virtual slot and
    /// cell when an `AnyKey` registration serves its key.
    pub(crate) fn slot_of(&self, dep: &crate::descriptor::Dependency) -> Option<(u32, Option<VirtualSlot>)> {
        let Some(key) = &dep.key else { return self.unkeyed.get(&dep.service).map(|e| (e.last, None)) };
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

    /// The `AnyKey` registration of `T` that serves `key`, as a virtual slot; `None` if `T` has
    /// none. Only called once an exact lookup missed.
    fn fallback<T, K>(&self, key: &K) -> Option<(u32, u32, Arc<Cell>)>
    where
        T: ?Sized + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        self.find_keyed::<T, AnyKey>(&AnyKey).map(|e| {
            let (id, cell) = self.per_key.virtual_slot(e.last, TypeId::of::<T>(), key);
            (e.last, id, cell)
        })
    }

    /// The slots `get_all_keyed` resolves for `key`.
    #[inline]
    fn all_keyed<T: ?Sized + 'static, K: Eq + Hash + 'static>(&self, key: &K) -> Option<&[u32]> {
        if is_any_key::<K>() {
            return self.listed.get(&TypeId::of::<T>()).map(|s| &**s);
        }
        self.find_keyed::<T, K>(key).map(|e| &*e.all)
    }

    fn find_keyed<T: ?Sized + 'static, K: Eq + Hash + 'static>(&self, key: &K) -> Option<&Entry> {
        let service = TypeId::of::<T>();
        self.keyed.find(keyed_hash(service, key), |e| e.service == service && e.key.matches(key)).map(|e| &e.entry)
    }
}

/// Whether `K` is [`AnyKey`]; known at compile time.
#[inline(always)]
fn is_any_key<K: 'static>() -> bool {
    TypeId::of::<K>() == TypeId::of::<AnyKey>()
}

impl Drop for Core {
    fn drop(&mut self) {
        // The last owning handle is gone without an explicit dispose: run the sync hooks now.
        if !self.disposed.swap(true, Ordering::AcqRel) {
            self.root.dispose_on_drop();
        }
    }
}

/// How a handle holds the container. Handles the container gives out (to factories, or when
/// `Arc<ServiceProvider>` is resolved) are weak, so a singleton that keeps one does not keep
/// the container alive through itself: no `Arc` cycle, no leak.
#[derive(Clone)]
pub(crate) enum CoreRef {
    Strong(Arc<Core>),
    Weak(Weak<Core>),
}

/// A borrowed or upgraded core.
pub(crate) enum CoreGuard<'a> {
    Borrowed(&'a Arc<Core>),
    Owned(Arc<Core>),
}

impl std::ops::Deref for CoreGuard<'_> {
    type Target = Arc<Core>;
    #[inline]
    fn deref(&self) -> &Arc<Core> {
        match self {
            Self::Borrowed(c) => c,
            Self::Owned(c) => c,
        }
    }
}

/// The built container: resolves services, creates scopes, and disposes what it created.
///
/// `build()` returns the root provider as `Arc<ServiceProvider>`; a [`Scope`] derefs to a
/// provider too. Resolve with a fallible lookup ([`get`](Self::get) and friends, returning
/// `Result<Arc<T>, ResolveError>`) or an optional one ([`get_optional`](Self::get_optional),
/// returning `Ok(None)` when nothing is registered). Lookups of a cached singleton take no lock
/// and do not allocate.
///
/// The provider resolves itself: `get::<ServiceProvider>()` returns a handle to the provider it
/// was resolved from (the root, or the scope), and `get::<ScopeFactory>()` the scope factory.
/// Handles obtained this way do not keep the container alive.
///
/// Scoped services resolved from the root are an error ([`ResolveError::ScopedFromRoot`]) unless
/// [`ProviderOptions::validate_scopes`] is off.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{ServiceCollection, ServiceProvider};
///
/// struct Db;
/// struct Repo { db: Arc<Db> }
///
/// let provider: Arc<ServiceProvider> = ServiceCollection::new()
///     .add_singleton::<Db>(|_| Ok(Arc::new(Db)))
///     .add_scoped::<Repo>(|sp| Ok(Arc::new(Repo { db: sp.get()? })))
///     .build()?;
///
/// let scope = provider.create_scope()?;
/// let repo = scope.get::<Repo>()?;
/// assert!(Arc::ptr_eq(&repo.db, &provider.get::<Db>()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ServiceProvider {
    pub(crate) core: CoreRef,
    pub(crate) scope: Arc<ScopeState>,
    pub(crate) chain: Option<Chain>,
}

impl std::fmt::Debug for ServiceProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProvider")
            .field("scope", &if self.scope.is_root { "root" } else { "scope" })
            .field("disposed", &self.scope.is_disposed())
            .finish_non_exhaustive()
    }
}

impl Clone for ServiceProvider {
    /// A handle to the same root or scope. The resolution chain is not cloned, and a clone of
    /// the handle a factory received is weak: a service that keeps it does not keep the
    /// container alive.
    fn clone(&self) -> Self {
        let core = match (&self.core, &self.chain) {
            (CoreRef::Strong(core), Some(_)) => CoreRef::Weak(Arc::downgrade(core)),
            (core, _) => core.clone(),
        };
        Self { core, scope: self.scope.clone(), chain: None }
    }
}

// ===== impl ServiceProvider: construction =====

impl ServiceProvider {
    pub(crate) fn build(mut descriptors: Vec<Descriptor>, options: ProviderOptions) -> Result<Self, BuildError> {
        // Built-ins go first so a user registration of the same type wins a single resolve.
        let builtins = [
            builtin::<Self>(Lifetime::Transient, Factory::Provider),
            builtin::<ScopeFactory>(Lifetime::Singleton, Factory::Scopes),
        ];
        descriptors.splice(0..0, builtins);

        if options.validates_on_build() {
            let problems = crate::validate::validate(&descriptors, options);
            if !problems.is_empty() {
                return Err(BuildError::Invalid { problems });
            }
        }

        let mut unkeyed: FxHashMap<TypeId, Vec<u32>> = FxHashMap::default();
        let mut listed: FxHashMap<TypeId, Vec<u32>> = FxHashMap::default();
        // Group slots by (type) and by (type, key), keeping registration order within a group.
        let mut keyed: HashTable<(TypeId, ServiceKey, u64, Vec<u32>)> = HashTable::new();
        for (slot, d) in descriptors.iter().enumerate() {
            let slot = u32::try_from(slot).expect("fewer than 2^32 registrations");
            match &d.key {
                None => unkeyed.entry(d.service).or_default().push(slot),
                Some(k) => {
                    if !k.is_any() {
                        listed.entry(d.service).or_default().push(slot);
                    }
                    let hash = k.hash_for(d.service);
                    match keyed.find_mut(hash, |(s, key, _, _)| *s == d.service && key.same_as(k)) {
                        Some((_, _, _, slots)) => slots.push(slot),
                        None => {
                            keyed.insert_unique(hash, (d.service, k.clone(), hash, vec![slot]), |e| e.2);
                        }
                    }
                }
            }
        }
        let entry = |slots: Vec<u32>| Entry { last: *slots.last().expect("non-empty"), all: slots.into() };
        let unkeyed = unkeyed.into_iter().map(|(t, slots)| (t, entry(slots))).collect();
        let listed = listed.into_iter().map(|(t, slots)| (t, slots.into())).collect();
        let per_key = PerKey::new(descriptors.len());
        let mut table = HashTable::with_capacity(keyed.len());
        for (service, key, hash, slots) in keyed {
            table.insert_unique(hash, KeyedEntry { service, key, hash, entry: entry(slots) }, |e| e.hash);
        }

        let core = Arc::new_cyclic(|weak: &Weak<Core>| {
            let scope_factory = Arc::new(ScopeFactory::new(weak.clone()));
            let singletons = descriptors
                .iter()
                .map(|d| match &d.factory {
                    Factory::Instance(i) => Cell::filled(i.clone()),
                    Factory::Scopes => Cell::filled(Arc::new(scope_factory.clone()) as Instance),
                    _ => Cell::default(),
                })
                .collect();
            Core {
                descriptors: descriptors.into(),
                unkeyed,
                keyed: table,
                listed,
                per_key,
                singletons,
                root: Arc::new(ScopeState::new(true)),
                options,
                inits: Inits::default(),
                disposed: AtomicBool::new(false),
                scope_factory,
            }
        });
        let root = core.root.clone();
        Ok(Self { core: CoreRef::Strong(core), scope: root, chain: None })
    }

    pub(crate) fn scope_state(&self) -> &Arc<ScopeState> {
        &self.scope
    }

    /// The core, if this handle and its container are still live. The common case (an owning
    /// handle, nothing disposed) is a few loads and inlines into every lookup.
    #[inline]
    pub(crate) fn live(&self, service: &'static str) -> Result<CoreGuard<'_>, ResolveError> {
        if let CoreRef::Strong(core) = &self.core
            && !self.scope.is_disposed()
            && !core.is_disposed()
        {
            return Ok(CoreGuard::Borrowed(core));
        }
        self.live_slow(service)
    }

    #[cold]
    #[inline(never)]
    fn live_slow(&self, service: &'static str) -> Result<CoreGuard<'_>, ResolveError> {
        let core = match &self.core {
            CoreRef::Strong(core) => CoreGuard::Borrowed(core),
            CoreRef::Weak(weak) => match weak.upgrade() {
                Some(core) => CoreGuard::Owned(core),
                None => return Err(ResolveError::Disposed { service, what: "service provider" }),
            },
        };
        if self.scope.is_disposed() {
            return Err(ResolveError::Disposed { service, what: self.scope.what() });
        }
        if core.is_disposed() {
            return Err(ResolveError::Disposed { service, what: "service provider" });
        }
        Ok(core)
    }

    pub(crate) fn path(&self) -> ResolutionPath {
        ResolutionPath::new(self.chain.as_ref().map(|c| c.path()).unwrap_or_default())
    }

    #[cold]
    fn not_registered<T: ?Sized>(&self, key: Option<String>) -> ResolveError {
        ResolveError::NotRegistered { service: type_name::<T>(), key, path: self.path() }
    }
}

fn builtin<T: 'static>(lifetime: Lifetime, factory: Factory) -> Descriptor {
    Descriptor {
        service: TypeId::of::<T>(),
        name: type_name::<T>(),
        implementation: None,
        key: None,
        lifetime,
        factory,
        sync_hook: None,
        async_hook: None,
        dependencies: Vec::new(),
    }
}

// ===== impl ServiceProvider: lookups =====

impl ServiceProvider {
    /// Resolves the last registration of `T`.
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotRegistered`] if `T` has no registration; otherwise whatever creating it
    /// failed with (a factory error or panic, a cycle, a scoped service resolved from the root...).
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().add_singleton_instance(7u32).build()?;
    /// assert_eq!(*provider.get::<u32>()?, 7);
    /// assert!(provider.get::<u64>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn get<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        let core = self.live(type_name::<T>())?;
        let Some(entry) = core.unkeyed.get(&TypeId::of::<T>()) else {
            return Err(self.not_registered::<T>(None));
        };
        self.resolve_typed(&core, entry.last)
    }

    /// Resolves `T`, or `Ok(None)` when it has no registration. A registration that fails to
    /// produce the service is still an error: absent and broken are different things.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), except for [`ResolveError::NotRegistered`] of `T` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(provider.get_optional::<u32>()?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_optional<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Option<Arc<T>>, ResolveError> {
        let core = self.live(type_name::<T>())?;
        match core.unkeyed.get(&TypeId::of::<T>()) {
            Some(entry) => self.resolve_typed(&core, entry.last).map(Some),
            None => Ok(None),
        }
    }

    /// Resolves every registration of `T`, in registration order; empty when there is none.
    /// Each registration has its own instance (and its own cache slot for singletons and scoped
    /// services), so the last element is the instance [`get`](Self::get) returns.
    ///
    /// # Errors
    ///
    /// The first error any registration fails with.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_singleton_instance(1u32)
    ///     .add_singleton_instance(2u32)
    ///     .build()?;
    /// let all: Vec<u32> = provider.get_all::<u32>()?.iter().map(|v| **v).collect();
    /// assert_eq!(all, [1, 2]);
    /// assert!(provider.get_all::<u8>()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_all<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Vec<Arc<T>>, ResolveError> {
        let core = self.live(type_name::<T>())?;
        match core.unkeyed.get(&TypeId::of::<T>()) {
            Some(entry) => entry.all.iter().map(|&slot| self.resolve_typed(&core, slot)).collect(),
            None => Ok(Vec::new()),
        }
    }

    /// Resolves the last registration of `T` under `key`. Unkeyed registrations never answer a
    /// keyed lookup, and keyed ones never answer [`get`](Self::get). When `key` has no
    /// registration of its own, the registration of `T` under [`AnyKey`] (if any) serves it,
    /// with one instance per key for a singleton. The key is cloned only the first time the
    /// fallback serves it.
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotRegistered`] (naming the key) if there is no such registration;
    /// [`ResolveError::AnyKeySingle`] if `key` is [`AnyKey`]; otherwise as [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_keyed_singleton_instance("eu", String::from("eu-west-1"))
    ///     .build()?;
    /// assert_eq!(*provider.get_keyed::<String, _>(&"eu")?, "eu-west-1");
    /// assert_eq!(
    ///     provider.get_keyed::<String, _>(&"us").unwrap_err().to_string(),
    ///     "no service registered for `alloc::string::String` with key \"us\"; \
    ///      register it on the `ServiceCollection` before `build()`"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_keyed<T, K>(&self, key: &K) -> Result<Arc<T>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        let core = self.live(type_name::<T>())?;
        if !is_any_key::<K>()
            && let Some(entry) = core.find_keyed::<T, K>(key)
        {
            return self.resolve_typed(&core, entry.last);
        }
        self.resolve_fallback(&core, key)?.ok_or_else(|| self.not_registered::<T>(Some(describe_key(key))))
    }

    /// Resolves `T` under `key`, or `Ok(None)` when there is no such registration.
    ///
    /// # Errors
    ///
    /// As [`get_keyed`](Self::get_keyed), except for `NotRegistered` of `T` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(provider.get_keyed_optional::<String, _>(&"eu")?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_keyed_optional<T, K>(&self, key: &K) -> Result<Option<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        let core = self.live(type_name::<T>())?;
        if !is_any_key::<K>()
            && let Some(entry) = core.find_keyed::<T, K>(key)
        {
            return self.resolve_typed(&core, entry.last).map(Some);
        }
        self.resolve_fallback(&core, key)
    }

    /// Resolves every registration of `T` under `key`, in registration order, never the
    /// [`AnyKey`] fallback. With `key` = [`AnyKey`]: every keyed registration of `T` except the
    /// `AnyKey` one, in registration order across keys, each the instance a single resolve of
    /// its key returns when it is the last of that key.
    ///
    /// # Errors
    ///
    /// The first error any registration fails with.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new()
    ///     .add_keyed_singleton_instance("a", 1u8)
    ///     .add_keyed_singleton_instance("a", 2u8)
    ///     .add_keyed_singleton_instance("b", 3u8)
    ///     .build()?;
    /// assert_eq!(provider.get_all_keyed::<u8, _>(&"a")?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_all_keyed<T, K>(&self, key: &K) -> Result<Vec<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        let core = self.live(type_name::<T>())?;
        match core.all_keyed::<T, K>(key) {
            Some(all) => all.iter().map(|&slot| self.resolve_typed(&core, slot)).collect(),
            None => Ok(Vec::new()),
        }
    }

    /// Whether `T` has an unkeyed registration (built-ins included).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{ServiceCollection, ServiceProvider};
    /// let provider = ServiceCollection::new().add_singleton_instance(1u8).build()?;
    /// assert!(provider.is_service::<u8>());
    /// assert!(provider.is_service::<ServiceProvider>());
    /// assert!(!provider.is_service::<u16>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_service<T: ?Sized + 'static>(&self) -> bool {
        self.live(type_name::<T>()).is_ok_and(|core| core.unkeyed.contains_key(&TypeId::of::<T>()))
    }

    /// Whether `T` has a registration under `key`, or one under [`AnyKey`] that serves it. With
    /// `key` = [`AnyKey`]: whether [`get_all_keyed`](Self::get_all_keyed) would list anything.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().add_keyed_singleton_instance("a", 1u8).build()?;
    /// assert!(provider.is_keyed_service::<u8, _>(&"a"));
    /// assert!(!provider.is_keyed_service::<u8, _>(&"b"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_keyed_service<T: ?Sized + 'static, K: Eq + Hash + Send + Sync + 'static>(&self, key: &K) -> bool {
        self.live(type_name::<T>()).is_ok_and(|core| {
            if is_any_key::<K>() {
                core.listed.contains_key(&TypeId::of::<T>())
            } else {
                core.find_keyed::<T, K>(key).is_some() || core.find_keyed::<T, AnyKey>(&AnyKey).is_some()
            }
        })
    }

    /// The `AnyKey` fallback of a single keyed lookup whose exact lookup missed (or whose key is
    /// `AnyKey`, an error): `Ok(None)` when `T` has no `AnyKey` registration either.
    #[inline(never)]
    fn resolve_fallback<T, K>(&self, core: &Arc<Core>, key: &K) -> Result<Option<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        let Some((slot, id, cell)) = self.fallback::<T, K>(core, key)? else { return Ok(None) };
        self.resolve_at(core, Target { slot, id, cell: &cell }, downcast::<T>).map(Some)
    }

    /// [`resolve_fallback`](Self::resolve_fallback), awaiting async factories.
    async fn resolve_fallback_async<T, K>(&self, core: &Arc<Core>, key: &K) -> Result<Option<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        let Some((slot, id, cell)) = self.fallback::<T, K>(core, key)? else { return Ok(None) };
        self.resolve_at_async(core, Target { slot, id, cell: &cell }, downcast::<T>).await.map(Some)
    }

    /// The slot, virtual slot and cell of the `AnyKey` registration of `T` serving `key`.
    fn fallback<T, K>(&self, core: &Core, key: &K) -> Result<Option<(u32, u32, Arc<Cell>)>, ResolveError>
    where
        T: ?Sized + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        if is_any_key::<K>() {
            return Err(ResolveError::AnyKeySingle { service: type_name::<T>(), path: self.path() });
        }
        Ok(core.fallback::<T, K>(key))
    }

    /// The key an `AnyKey` registration is being created for, when this is the handle its
    /// factory received.
    pub(crate) fn requested_key(&self) -> Option<ServiceKey> {
        let id = self.chain.as_ref()?.slot;
        let core = self.live(type_name::<ServiceKey>()).ok()?;
        core.per_key.key(id)
    }

    #[inline]
    fn resolve_typed<T: ?Sized + Send + Sync + 'static>(
        &self,
        core: &Arc<Core>,
        slot: u32,
    ) -> Result<Arc<T>, ResolveError> {
        // Fast path: a created singleton is one atomic load away. Only singleton cells are filled.
        if let Some(instance) = core.singletons[slot as usize].get() {
            return Ok(downcast(instance));
        }
        self.resolve_slot(core, slot, downcast::<T>)
    }
}

// ===== impl ServiceProvider: async lookups =====

impl ServiceProvider {
    /// Resolves the last registration of `T`, awaiting async factories (its own or its
    /// dependencies'). Works for sync factories too.
    ///
    /// Exactly-once holds here as well: many tasks awaiting one async singleton run its factory
    /// once. If the awaiting future is dropped mid-creation, the next resolve starts over.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// struct Pool;
    /// let provider = ServiceCollection::new()
    ///     .add_async::<Pool, _>(Lifetime::Singleton, |_| async { Ok(Arc::new(Pool)) })
    ///     .build()?;
    /// assert!(provider.get::<Pool>().is_err()); // sync lookups refuse async factories
    /// # let _ = async move {
    /// let pool = provider.get_async::<Pool>().await?;
    /// # Ok::<(), di_core::ResolveError>(())
    /// # };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        let core = self.live(type_name::<T>())?;
        let Some(entry) = core.unkeyed.get(&TypeId::of::<T>()) else {
            return Err(self.not_registered::<T>(None));
        };
        let slot = entry.last;
        self.resolve_slot_async(&core, slot, downcast::<T>).await
    }

    /// Async [`get_optional`](Self::get_optional).
    ///
    /// # Errors
    ///
    /// As [`get_async`](Self::get_async), except for `NotRegistered` of `T` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// # let _ = async move {
    /// assert!(provider.get_optional_async::<u8>().await?.is_none());
    /// # Ok::<(), di_core::ResolveError>(())
    /// # };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_optional_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Option<Arc<T>>, ResolveError> {
        let core = self.live(type_name::<T>())?;
        let Some(slot) = core.unkeyed.get(&TypeId::of::<T>()).map(|e| e.last) else {
            return Ok(None);
        };
        self.resolve_slot_async(&core, slot, |i| Some(downcast::<T>(i))).await
    }

    /// Async [`get_all`](Self::get_all).
    ///
    /// # Errors
    ///
    /// The first error any registration fails with.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// # let _ = async move {
    /// assert!(provider.get_all_async::<u8>().await?.is_empty());
    /// # Ok::<(), di_core::ResolveError>(())
    /// # };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_all_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Vec<Arc<T>>, ResolveError> {
        let core = self.live(type_name::<T>())?;
        let slots: Vec<u32> = core.unkeyed.get(&TypeId::of::<T>()).map(|e| e.all.to_vec()).unwrap_or_default();
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            out.push(self.resolve_slot_async(&core, slot, downcast::<T>).await?);
        }
        Ok(out)
    }

    /// Async [`get_keyed`](Self::get_keyed).
    ///
    /// # Errors
    ///
    /// As [`get_keyed`](Self::get_keyed).
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().add_keyed_singleton_instance("a", 1u8).build()?;
    /// # let _ = async move {
    /// assert_eq!(*provider.get_keyed_async::<u8, _>(&"a").await?, 1);
    /// # Ok::<(), di_core::ResolveError>(())
    /// # };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_keyed_async<T, K>(&self, key: &K) -> Result<Arc<T>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        let core = self.live(type_name::<T>())?;
        if !is_any_key::<K>()
            && let Some(slot) = core.find_keyed::<T, K>(key).map(|e| e.last)
        {
            return self.resolve_slot_async(&core, slot, downcast::<T>).await;
        }
        self.resolve_fallback_async(&core, key).await?.ok_or_else(|| self.not_registered::<T>(Some(describe_key(key))))
    }

    /// Async [`get_keyed_optional`](Self::get_keyed_optional).
    ///
    /// # Errors
    ///
    /// As [`get_keyed_async`](Self::get_keyed_async), except for `NotRegistered` of `T` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// # let _ = async move {
    /// assert!(provider.get_keyed_optional_async::<u8, _>(&"a").await?.is_none());
    /// # Ok::<(), di_core::ResolveError>(())
    /// # };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_keyed_optional_async<T, K>(&self, key: &K) -> Result<Option<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        let core = self.live(type_name::<T>())?;
        if !is_any_key::<K>()
            && let Some(slot) = core.find_keyed::<T, K>(key).map(|e| e.last)
        {
            return self.resolve_slot_async(&core, slot, |i| Some(downcast::<T>(i))).await;
        }
        self.resolve_fallback_async(&core, key).await
    }

    /// Async [`get_all_keyed`](Self::get_all_keyed).
    ///
    /// # Errors
    ///
    /// The first error any registration fails with.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// # let _ = async move {
    /// assert!(provider.get_all_keyed_async::<u8, _>(&"a").await?.is_empty());
    /// # Ok::<(), di_core::ResolveError>(())
    /// # };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_all_keyed_async<T, K>(&self, key: &K) -> Result<Vec<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Eq + Hash + Send + Sync + 'static,
    {
        let core = self.live(type_name::<T>())?;
        let slots: Vec<u32> = core.all_keyed::<T, K>(key).map(<[u32]>::to_vec).unwrap_or_default();
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            out.push(self.resolve_slot_async(&core, slot, downcast::<T>).await?);
        }
        Ok(out)
    }
}

// ===== impl ServiceProvider: scopes and disposal =====

impl ServiceProvider {
    /// Creates a scope. Works on the root and on a scope alike: scopes are flat, so a scope of a
    /// scope is another child of the root.
    ///
    /// # Errors
    ///
    /// [`ResolveError::Disposed`] if the root provider was disposed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let provider = di_core::ServiceCollection::new().add_scoped::<u64>(|_| Ok(Arc::new(1u64))).build()?;
    /// let outer = provider.create_scope()?;
    /// let inner = outer.create_scope()?;
    /// assert!(!Arc::ptr_eq(&outer.get::<u64>()?, &inner.get::<u64>()?));
    /// drop(outer);
    /// assert!(inner.get::<u64>().is_ok()); // ending the outer scope leaves the inner one alone
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_scope(&self) -> Result<Scope, ResolveError> {
        let core = match &self.core {
            CoreRef::Strong(core) => core.clone(),
            CoreRef::Weak(weak) => {
                weak.upgrade().ok_or(ResolveError::Disposed { service: "di_core::Scope", what: "service provider" })?
            }
        };
        Core::create_scope(&core)
    }

    /// Disposes what this provider created, awaiting async hooks (preferred over sync ones), in
    /// reverse creation order, each exactly once. On the root: every singleton and, with scope
    /// validation off, root-scoped services; afterwards every resolve and `create_scope` on the
    /// root or any of its scopes returns [`ResolveError::Disposed`]. On a scope: that scope's
    /// services. A second call does nothing.
    ///
    /// # Errors
    ///
    /// [`DisposeError`] listing every hook that failed or panicked; the others still ran.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// # let _ = async move {
    /// provider.dispose().await?;
    /// # Ok::<(), di_core::DisposeError>(())
    /// # };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn dispose(&self) -> Result<(), DisposeError> {
        self.mark_disposed();
        self.scope.dispose_async().await
    }

    /// Disposes synchronously: like [`dispose`](Self::dispose) but runs only sync hooks; an
    /// instance that has only an async hook is reported as [`DisposeFailure::AsyncOnly`](crate::DisposeFailure::AsyncOnly)
    /// rather than blocked on.
    ///
    /// # Errors
    ///
    /// [`DisposeError`] listing every hook that failed, panicked or could not run synchronously.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().add_singleton_instance(1u8).build()?;
    /// provider.dispose_sync()?;
    /// assert!(provider.get::<u8>().unwrap_err().is_disposed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dispose_sync(&self) -> Result<(), DisposeError> {
        self.mark_disposed();
        self.scope.dispose_sync()
    }

    fn mark_disposed(&self) {
        if self.scope.is_root
            && let Ok(core) = self.live("di_core::ServiceProvider")
        {
            core.disposed.store(true, Ordering::Release);
        }
    }

    /// Whether this provider (the root, or the scope) has been disposed.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(!provider.is_disposed());
    /// provider.dispose_sync()?;
    /// assert!(provider.is_disposed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_disposed(&self) -> bool {
        self.scope.is_disposed() || self.live("di_core::ServiceProvider").is_err()
    }

    /// Whether this handle is the root provider (not a scope).
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(provider.is_root());
    /// assert!(!provider.create_scope()?.is_root());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_root(&self) -> bool {
        self.scope.is_root
    }
}
