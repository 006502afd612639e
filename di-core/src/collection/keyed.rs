//! [`KeyedServices`]: the collection's operations for registrations under one key.

use std::any::TypeId;
use std::sync::Arc;

use super::{Mode, Registration, ServiceCollection, Source};
use crate::error::BoxError;
use crate::key::{Key, ServiceKey};
use crate::lifetime::Lifetime;
use crate::resolve::Resolver;

/// The [`ServiceCollection`] operations for registrations under one key, from
/// [`ServiceCollection::keyed`]. A keyed factory is given the key it is resolved under
/// ([`Resolver::key`]), so one factory can serve several keys.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{AnyKey, ServiceCollection};
/// struct Queue(String);
/// let mut services = ServiceCollection::new();
/// services.keyed("orders").add_singleton::<Queue>(|_| Ok(Arc::new(Queue("orders (dedicated)".into()))));
/// // The fallback for every other key, created once per key.
/// services.keyed(AnyKey).add_singleton::<Queue>(|sp| {
///     let name = sp.key::<&str>().ok_or("queues are keyed by `&str`")?;
///     Ok(Arc::new(Queue(format!("{name} (shared)"))))
/// });
/// let provider = services.build()?;
/// assert_eq!(provider.keyed(&"orders").get::<Queue>()?.0, "orders (dedicated)");
/// assert_eq!(provider.keyed(&"mail").get::<Queue>()?.0, "mail (shared)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct KeyedServices<'a, K> {
    pub(super) services: &'a mut ServiceCollection,
    pub(super) key: K,
}

impl<'a, K: Key> KeyedServices<'a, K> {
    /// [`ServiceCollection::add_singleton`] under this key.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.keyed("eu").add_singleton::<String>(|_| Ok(Arc::new("eu-west-1".into())));
    /// assert_eq!(*services.build()?.keyed(&"eu").get::<String>()?, "eu-west-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_singleton<T>(
        self,
        factory: impl Fn(&Resolver<'_>) -> Result<Arc<T>, BoxError> + Send + Sync + 'static,
    ) -> Registration<'a, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add(Lifetime::Singleton, Source::from_fn(factory))
    }

    /// [`ServiceCollection::add_scoped`] under this key.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.keyed("cold").add_scoped::<Vec<u8>>(|_| Ok(Arc::new(Vec::new())));
    /// let provider = services.build()?;
    /// assert!(provider.create_scope()?.provider().keyed(&"cold").get::<Vec<u8>>().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_scoped<T>(
        self,
        factory: impl Fn(&Resolver<'_>) -> Result<Arc<T>, BoxError> + Send + Sync + 'static,
    ) -> Registration<'a, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add(Lifetime::Scoped, Source::from_fn(factory))
    }

    /// [`ServiceCollection::add_transient`] under this key.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.keyed(1u8).add_transient::<u32>(|_| Ok(Arc::new(1)));
    /// assert_eq!(*services.build()?.keyed(&1u8).get::<u32>()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_transient<T>(
        self,
        factory: impl Fn(&Resolver<'_>) -> Result<Arc<T>, BoxError> + Send + Sync + 'static,
    ) -> Registration<'a, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.add(Lifetime::Transient, Source::from_fn(factory))
    }

    /// [`ServiceCollection::add`] under this key.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.keyed("eu").add(Lifetime::Singleton, Source::instance(String::from("eu-west-1")));
    /// assert_eq!(*services.build()?.keyed(&"eu").get::<String>()?, "eu-west-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add<T>(self, lifetime: Lifetime, source: Source<T>) -> Registration<'a, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.services.register(Some(ServiceKey::new(self.key)), lifetime, source, Mode::Add).expect("`add` always adds")
    }

    /// [`ServiceCollection::try_add`] under this key: skipped if the service has a registration
    /// under an equal key.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.keyed("a").add(Lifetime::Singleton, Source::instance(1u8));
    /// assert!(services.keyed("a").try_add(Lifetime::Singleton, Source::instance(2u8)).is_none());
    /// assert!(services.keyed("b").try_add(Lifetime::Singleton, Source::instance(3u8)).is_some());
    /// ```
    pub fn try_add<T>(self, lifetime: Lifetime, source: Source<T>) -> Option<Registration<'a, T>>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.services.register(Some(ServiceKey::new(self.key)), lifetime, source, Mode::TryAdd)
    }

    /// [`ServiceCollection::try_add_enumerable`] under this key.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// assert!(services.keyed("a").try_add_enumerable(Lifetime::Singleton, Source::instance(1u8)).is_some());
    /// assert!(services.keyed("a").try_add_enumerable(Lifetime::Singleton, Source::instance(2u8)).is_none());
    /// ```
    pub fn try_add_enumerable<T>(self, lifetime: Lifetime, source: Source<T>) -> Option<Registration<'a, T>>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.services.register(Some(ServiceKey::new(self.key)), lifetime, source, Mode::TryAddEnumerable)
    }

    /// [`ServiceCollection::replace`] under this key.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.keyed("a").add(Lifetime::Singleton, Source::instance(1u8));
    /// services.keyed("a").replace(Lifetime::Singleton, Source::instance(2u8));
    /// assert_eq!(*services.build()?.keyed(&"a").get::<u8>()?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replace<T>(self, lifetime: Lifetime, source: Source<T>) -> Registration<'a, T>
    where
        T: ?Sized + Send + Sync + 'static,
    {
        self.services
            .register(Some(ServiceKey::new(self.key)), lifetime, source, Mode::Replace)
            .expect("`replace` always adds")
    }

    /// [`ServiceCollection::remove`] under this key: removes every registration of `T` under an
    /// equal key; returns how many.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.keyed("a").add(Lifetime::Singleton, Source::instance(1u8));
    /// services.keyed("b").add(Lifetime::Singleton, Source::instance(2u8));
    /// assert_eq!(services.keyed("a").remove::<u8>(), 1);
    /// assert_eq!(services.len(), 1);
    /// ```
    pub fn remove<T: ?Sized + 'static>(self) -> usize {
        self.services.remove_matching(TypeId::of::<T>(), Some(&ServiceKey::new(self.key)))
    }
}
