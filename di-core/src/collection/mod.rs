//! [`ServiceCollection`]: the list of registrations a provider is built from.
//!
//! A registration is a service type, a lifetime, a [`Source`] and optionally a key. The
//! collection has one method per way of adding (`add`, `try_add`, `try_add_enumerable`,
//! `replace`, `remove`), the .NET shorthands for the common case (a closure), and one modifier
//! for keys ([`keyed`](ServiceCollection::keyed)), instead of a method per combination.

mod inspect;
mod keyed;
mod registration;
mod source;

use std::any::{TypeId, type_name};
use std::sync::Arc;

pub use self::inspect::{Iter, ServiceInfo};
pub use self::keyed::KeyedServices;
pub use self::registration::Registration;
pub use self::source::{IntoArc, Source};
use crate::descriptor::Descriptor;
use crate::error::{BoxError, BuildError};
use crate::key::{Key, ServiceKey};
use crate::lifetime::Lifetime;
use crate::options::ProviderOptions;
use crate::provider::ServiceProvider;
use crate::resolve::Resolver;

/// The registrations a [`ServiceProvider`] is built from: an ordered list you add to, replace in
/// and remove from, then turn into a provider with [`build`](Self::build).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{Lifetime, ServiceCollection, Source};
///
/// trait Clock: Send + Sync { fn now(&self) -> u64; }
/// struct Fixed;
/// impl Clock for Fixed { fn now(&self) -> u64 { 42 } }
///
/// struct Config { retries: u32 }
///
/// let mut services = ServiceCollection::new();
/// services.add(Lifetime::Singleton, Source::instance(Config { retries: 3 }));
/// services.add_singleton::<dyn Clock>(|_| Ok(Arc::new(Fixed)));
/// services.add_transient::<String>(|sp| Ok(Arc::new(format!("retries={}", sp.get::<Config>()?.retries))));
/// services.keyed("backup").add_singleton::<dyn Clock>(|_| Ok(Arc::new(Fixed)));
/// let provider = services.build()?;
///
/// assert_eq!(provider.get::<dyn Clock>()?.now(), 42);
/// assert_eq!(*provider.get::<String>()?, "retries=3");
/// assert_eq!(provider.keyed(&"backup").get::<dyn Clock>()?.now(), 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default, Clone)]
pub struct ServiceCollection {
    descriptors: Vec<Descriptor>,
    /// (alias type, target type, target key's hash) of every alias added so far, never removed:
    /// an alias whose triple is new cannot repeat an existing one, so `also_as` skips its scan
    /// of the whole list (a stale or colliding entry only costs that scan). Without it, adding
    /// n hosted services took time in n².
    pub(crate) alias_targets: rustc_hash::FxHashSet<(TypeId, TypeId, u64)>,
}

impl std::fmt::Debug for ServiceCollection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.descriptors).finish()
    }
}

/// How a registration joins the list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Add,
    /// Only if the service (under this key) has no registration yet.
    TryAdd,
    /// Only if the service (under this key) has no registration with the same implementation.
    TryAddEnumerable,
    /// Removes the first registration of the service (under this key), then adds.
    Replace,
}

impl ServiceCollection {
    /// An empty collection.
    ///
    /// # Examples
    ///
    /// ```
    /// let services = di_core::ServiceCollection::new();
    /// assert!(services.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a singleton created by `factory`: once per root provider, on first use, shared
    /// by every scope. The closure returns `Result<_, BoxError>`, so `?` converts any error, which
    /// reaches the caller whole as the source of
    /// [`ResolveError::Factory`](crate::ResolveError::Factory); a function with another error
    /// type (`anyhow::Result`, say) is passed with [`Source::from_fn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Pool;
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Pool>(|_| Ok(Arc::new(Pool)));
    /// let provider = services.build()?;
    /// let scope = provider.create_scope()?;
    /// assert!(Arc::ptr_eq(&provider.get::<Pool>()?, &scope.provider().get::<Pool>()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_singleton<T>(
        &mut self,
        factory: impl Fn(&Resolver<'_>) -> Result<Arc<T>, BoxError> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add(Lifetime::Singleton, Source::from_fn(factory))
    }

    /// Registers a scoped service created by `factory`: once per scope, on first use within it.
    ///
    /// Resolving it from the root provider is an error
    /// ([`ResolveError::ScopedFromRoot`](crate::ResolveError::ScopedFromRoot)) unless scope
    /// validation is turned off with [`ProviderOptions::validate_scopes`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct RequestId;
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<RequestId>(|_| Ok(Arc::new(RequestId)));
    /// let provider = services.build()?;
    /// let (a, b) = (provider.create_scope()?, provider.create_scope()?);
    /// assert!(!Arc::ptr_eq(&a.provider().get::<RequestId>()?, &b.provider().get::<RequestId>()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_scoped<T>(
        &mut self,
        factory: impl Fn(&Resolver<'_>) -> Result<Arc<T>, BoxError> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add(Lifetime::Scoped, Source::from_fn(factory))
    }

    /// Registers a transient service created by `factory`: a new instance on every resolve.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Command;
    /// let mut services = ServiceCollection::new();
    /// services.add_transient::<Command>(|_| Ok(Arc::new(Command)));
    /// let provider = services.build()?;
    /// assert!(!Arc::ptr_eq(&provider.get::<Command>()?, &provider.get::<Command>()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_transient<T>(
        &mut self,
        factory: impl Fn(&Resolver<'_>) -> Result<Arc<T>, BoxError> + Send + Sync + 'static,
    ) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add(Lifetime::Transient, Source::from_fn(factory))
    }

    /// Registers `T` with any lifetime and any [`Source`]. A later registration of the same
    /// service wins a single resolve; every one is listed by `resolve::<Vec<Arc<T>>>()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{BoxError, FromProvider, Lifetime, Resolver, ServiceCollection, Source};
    /// struct Clock;
    /// impl FromProvider for Clock {
    ///     fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> { Ok(Clock) }
    /// }
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Transient, Source::<Clock>::injected());
    /// assert!(services.build()?.get::<Clock>().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add<T>(&mut self, lifetime: Lifetime, source: Source<T>) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.register(None, lifetime, source, Mode::Add).expect("`add` always adds")
    }

    /// Adds the registration only if `T` has none yet; `None` (the source is dropped) otherwise.
    /// What a library uses to supply a default the application may have registered already.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(1u32));
    /// assert!(services.try_add(Lifetime::Singleton, Source::instance(2u32)).is_none());
    /// assert_eq!(*services.build()?.get::<u32>()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_add<T>(&mut self, lifetime: Lifetime, source: Source<T>) -> Option<Registration<'_, T>>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.register(None, lifetime, source, Mode::TryAdd)
    }

    /// Adds one more implementation of `T` unless the same implementation is registered already:
    /// the implementation type of [`Source::implemented_by`] and [`Source::injected`], the
    /// value's type for [`Source::instance`], the closure itself for `from_fn` and
    /// `from_async_fn`. Use it to add to a set resolved as `Vec<Arc<T>>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{BoxError, FromProvider, Lifetime, Provides, Resolver, ServiceCollection, Source};
    /// trait Check: Send + Sync {}
    /// struct Disk;
    /// impl Check for Disk {}
    /// impl FromProvider for Disk {
    ///     fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> { Ok(Disk) }
    /// }
    /// impl Provides<dyn Check> for Disk {
    ///     fn provide(self: Arc<Self>) -> Arc<dyn Check> { self }
    /// }
    /// let mut services = ServiceCollection::new();
    /// let disk = || Source::<dyn Check>::implemented_by::<Disk>();
    /// assert!(services.try_add_enumerable(Lifetime::Singleton, disk()).is_some());
    /// assert!(services.try_add_enumerable(Lifetime::Singleton, disk()).is_none());
    /// assert_eq!(services.build()?.resolve::<Vec<Arc<dyn Check>>>()?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_add_enumerable<T>(&mut self, lifetime: Lifetime, source: Source<T>) -> Option<Registration<'_, T>>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.register(None, lifetime, source, Mode::TryAddEnumerable)
    }

    /// Removes the first registration of `T` (if any) and adds this one at the end.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(1u32));
    /// services.add(Lifetime::Singleton, Source::instance(2u32));
    /// services.replace(Lifetime::Singleton, Source::instance(3u32));
    /// let all: Vec<u32> = services.build()?.resolve::<Vec<Arc<u32>>>()?.iter().map(|v| **v).collect();
    /// assert_eq!(all, [2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replace<T>(&mut self, lifetime: Lifetime, source: Source<T>) -> Registration<'_, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.register(None, lifetime, source, Mode::Replace).expect("`replace` always adds")
    }

    /// Removes every registration of `T` (unkeyed; see [`keyed`](Self::keyed) for a key);
    /// returns how many were removed.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(1u32));
    /// services.keyed("a").add(Lifetime::Singleton, Source::instance(2u32));
    /// assert_eq!(services.remove::<u32>(), 1);
    /// assert_eq!(services.len(), 1); // the keyed one stays
    /// ```
    pub fn remove<T: ?Sized + 'static>(&mut self) -> usize {
        self.remove_matching(TypeId::of::<T>(), None)
    }

    /// The same operations for registrations under `key`: `services.keyed("cold").add_scoped(...)`.
    /// Resolve them with [`ServiceProvider::keyed`]. Under [`AnyKey`](crate::AnyKey), a
    /// registration is the fallback for every key that has none of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Cache(&'static str);
    /// let mut services = ServiceCollection::new();
    /// for tier in ["hot", "cold"] {
    ///     // One factory serves both keys: it is given the key it is resolved under.
    ///     services.keyed(tier).add_singleton::<Cache>(|sp| Ok(Arc::new(Cache(*sp.key::<&str>().unwrap()))));
    /// }
    /// let provider = services.build()?;
    /// assert_eq!(provider.keyed(&"cold").get::<Cache>()?.0, "cold");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyed<K: Key>(&mut self, key: K) -> KeyedServices<'_, K> {
        KeyedServices { services: self, key }
    }

    /// Every registration, in order: its service type, key and lifetime. For diagnostics, and
    /// for tests that assert what a module registered.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{Lifetime, ServiceCollection};
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<String>(|_| Ok(Arc::new(String::new())));
    /// services.keyed(7u8).add_singleton::<u32>(|_| Ok(Arc::new(1)));
    /// let scoped: Vec<_> = services.iter().filter(|s| s.lifetime() == Lifetime::Scoped).collect();
    /// assert!(scoped[0].is::<String>());
    /// assert_eq!(services.iter().last().unwrap().key::<u8>(), Some(&7));
    /// ```
    pub fn iter(&self) -> Iter<'_> {
        Iter { inner: self.descriptors.iter() }
    }

    /// How many registrations the collection holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(1u8));
    /// assert_eq!(services.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.descriptors.len()
    }

    /// Whether the collection holds no registration.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_core::ServiceCollection::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.descriptors.is_empty()
    }

    /// Builds a provider with the default [`ProviderOptions`] (both validations on). The provider
    /// returned owns the container: dropping it (or `dispose().await`) disposes the singletons.
    ///
    /// # Errors
    ///
    /// [`BuildError::Invalid`] listing every problem validation found: missing declared
    /// dependencies, cycles, singletons capturing scoped services, instances with another
    /// lifetime than singleton.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.add(Lifetime::Singleton, Source::instance(5u8));
    /// assert_eq!(*services.build()?.get::<u8>()?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(&self) -> Result<Arc<ServiceProvider>, BuildError> {
        self.build_with(ProviderOptions::default())
    }

    /// Builds a provider with explicit options.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), for the validations `options` keeps on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{ProviderOptions, ServiceCollection};
    /// struct RequestId;
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<RequestId>(|_| Ok(Arc::new(RequestId)));
    /// let provider = services.build_with(ProviderOptions::default().validate_scopes(false))?;
    /// assert!(provider.get::<RequestId>().is_ok()); // the root acts as a scope
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_with(&self, options: ProviderOptions) -> Result<Arc<ServiceProvider>, BuildError> {
        ServiceProvider::build(self.descriptors.clone(), options).map(Arc::new)
    }

    /// The one path every registration takes; `None` when the mode skips it.
    fn register<T>(
        &mut self,
        key: Option<ServiceKey>,
        lifetime: Lifetime,
        source: Source<T>,
        mode: Mode,
    ) -> Option<Registration<'_, T>>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        let service = TypeId::of::<T>();
        let same = |d: &Descriptor| d.service == service && same_key(d.key.as_ref(), key.as_ref());
        match mode {
            Mode::Add => {}
            Mode::TryAdd if self.descriptors.iter().any(same) => return None,
            Mode::TryAddEnumerable
                if self.descriptors.iter().any(|d| same(d) && d.implementation == source.implementation) =>
            {
                return None;
            }
            Mode::Replace => {
                if let Some(i) = self.descriptors.iter().position(same) {
                    self.descriptors.remove(i);
                }
            }
            Mode::TryAdd | Mode::TryAddEnumerable => {}
        }
        self.descriptors.push(Descriptor {
            service,
            name: type_name::<T>(),
            implementation: source.implementation,
            implementation_name: source.implementation_name,
            key,
            lifetime,
            factory: source.factory,
            sync_hook: None,
            async_hook: None,
            lifetime_fixed: false,
            dependencies: source.dependencies,
        });
        let index = self.descriptors.len() - 1;
        Some(Registration { services: self, index, _service: std::marker::PhantomData })
    }

    fn remove_matching(&mut self, service: TypeId, key: Option<&ServiceKey>) -> usize {
        let before = self.descriptors.len();
        self.descriptors.retain(|d| !(d.service == service && same_key(d.key.as_ref(), key)));
        before - self.descriptors.len()
    }
}

fn same_key(a: Option<&ServiceKey>, b: Option<&ServiceKey>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.same_as(b),
        _ => false,
    }
}

impl<'a> IntoIterator for &'a ServiceCollection {
    type Item = ServiceInfo<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}
