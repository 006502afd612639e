//! Reading a collection back: [`ServiceInfo`] for each registration.

use std::any::TypeId;

use crate::descriptor::Descriptor;
use crate::lifetime::Lifetime;

/// One registration as [`ServiceCollection::iter`](crate::ServiceCollection::iter) lists it:
/// service type, key and lifetime. Its `Debug` output names all three.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{Lifetime, ServiceCollection};
/// let mut services = ServiceCollection::new();
/// services.keyed("eu").add_scoped::<String>(|_| Ok(Arc::new(String::new())));
/// let info = services.iter().next().unwrap();
/// assert!(info.is::<String>());
/// assert_eq!(info.lifetime(), Lifetime::Scoped);
/// assert_eq!(info.key::<&str>(), Some(&"eu"));
/// assert_eq!(format!("{info:?}"), r#"scoped service `alloc::string::String` (factory) with key "eu" (&str)"#);
/// ```
#[derive(Clone, Copy)]
pub struct ServiceInfo<'a> {
    descriptor: &'a Descriptor,
}

impl ServiceInfo<'_> {
    /// The service type's name, as `std::any::type_name` spells it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.add_singleton::<u8>(|_| Ok(Arc::new(1)));
    /// assert_eq!(services.iter().next().unwrap().service_name(), "u8");
    /// ```
    pub fn service_name(&self) -> &'static str {
        self.descriptor.name
    }

    /// The service type's `TypeId`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::{any::TypeId, sync::Arc};
    /// let mut services = di_core::ServiceCollection::new();
    /// services.add_singleton::<u8>(|_| Ok(Arc::new(1)));
    /// assert_eq!(services.iter().next().unwrap().service_type(), TypeId::of::<u8>());
    /// ```
    pub fn service_type(&self) -> TypeId {
        self.descriptor.service
    }

    /// Whether this registers the service `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// trait Clock: Send + Sync {}
    /// struct Fixed;
    /// impl Clock for Fixed {}
    /// let mut services = di_core::ServiceCollection::new();
    /// services.add_singleton::<dyn Clock>(|_| Ok(Arc::new(Fixed)));
    /// assert!(services.iter().next().unwrap().is::<dyn Clock>());
    /// ```
    pub fn is<T: ?Sized + 'static>(&self) -> bool {
        self.descriptor.service == TypeId::of::<T>()
    }

    /// The lifetime.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::Lifetime;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.add_transient::<u8>(|_| Ok(Arc::new(1)));
    /// assert_eq!(services.iter().next().unwrap().lifetime(), Lifetime::Transient);
    /// ```
    pub fn lifetime(&self) -> Lifetime {
        self.descriptor.lifetime
    }

    /// Whether the registration is keyed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.keyed(1u8).add_transient::<u8>(|_| Ok(Arc::new(1)));
    /// assert!(services.iter().next().unwrap().is_keyed());
    /// ```
    pub fn is_keyed(&self) -> bool {
        self.descriptor.key.is_some()
    }

    /// The key, if the registration is keyed with a `K`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.keyed(String::from("a")).add_transient::<u8>(|_| Ok(Arc::new(1)));
    /// let info = services.iter().next().unwrap();
    /// assert_eq!(info.key::<String>().map(String::as_str), Some("a"));
    /// assert_eq!(info.key::<&str>(), None); // a `String` key is not a `&str` key
    /// ```
    pub fn key<K: 'static>(&self) -> Option<&K> {
        self.descriptor.key.as_ref()?.as_any().downcast_ref()
    }
}

impl std::fmt::Debug for ServiceInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.descriptor.fmt(f)
    }
}

/// The registrations of a collection, in order: [`ServiceCollection::iter`](crate::ServiceCollection::iter).
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// let mut services = di_core::ServiceCollection::new();
/// services.add_transient::<u8>(|_| Ok(Arc::new(1)));
/// let names: Vec<_> = services.iter().map(|s| s.service_name()).collect();
/// assert_eq!(names, ["u8"]);
/// ```
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    pub(super) inner: std::slice::Iter<'a, Descriptor>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = ServiceInfo<'a>;

    fn next(&mut self) -> Option<ServiceInfo<'a>> {
        self.inner.next().map(|descriptor| ServiceInfo { descriptor })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}
