//! Type-erased service keys: any `Eq + Hash + Send + Sync + 'static` value.

use std::any::{Any, TypeId};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::FxHasher;

/// Hash of (service type, key type, key value). The same function runs at build time on the
/// stored key and at resolve time on the borrowed key, so a lookup never allocates.
pub(crate) fn keyed_hash<K: Hash + 'static>(service: TypeId, key: &K) -> u64 {
    let mut h = FxHasher::default();
    service.hash(&mut h);
    TypeId::of::<K>().hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

/// What a stored key must do once its type is erased.
trait KeyValue: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn eq_dyn(&self, other: &dyn Any) -> bool;
    fn hash_for(&self, service: TypeId) -> u64;
    fn describe(&self) -> String;
}

struct Typed<K>(K);

impl<K: Eq + Hash + Send + Sync + 'static> KeyValue for Typed<K> {
    fn as_any(&self) -> &dyn Any {
        &self.0
    }
    fn eq_dyn(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<K>() == Some(&self.0)
    }
    fn hash_for(&self, service: TypeId) -> u64 {
        keyed_hash(service, &self.0)
    }
    fn describe(&self) -> String {
        describe_key(&self.0)
    }
}

/// Renders a key for error messages: the value for common key types, the type name otherwise.
pub(crate) fn describe_key<K: 'static>(key: &K) -> String {
    let any = key as &dyn Any;
    if let Some(s) = any.downcast_ref::<&'static str>() {
        format!("{s:?}")
    } else if let Some(s) = any.downcast_ref::<String>() {
        format!("{s:?}")
    } else if let Some(n) = any.downcast_ref::<u32>() {
        n.to_string()
    } else if let Some(n) = any.downcast_ref::<u64>() {
        n.to_string()
    } else if let Some(n) = any.downcast_ref::<i32>() {
        n.to_string()
    } else if let Some(n) = any.downcast_ref::<i64>() {
        n.to_string()
    } else if let Some(n) = any.downcast_ref::<usize>() {
        n.to_string()
    } else if any.is::<AnyKey>() {
        "`AnyKey`".to_owned()
    } else {
        format!("of type `{}`", std::any::type_name::<K>())
    }
}

/// The key that stands for every key, as MS.DI's `KeyedService.AnyKey`.
///
/// - Registered under `AnyKey` (with [`add_keyed`](crate::ServiceCollection::add_keyed) and
///   friends, or [`add_keyed_any`](crate::ServiceCollection::add_keyed_any), whose factory receives
///   the requested key), a service is the fallback for single keyed resolves of its type: a
///   [`get_keyed`](crate::ServiceProvider::get_keyed) with a key that has no registration of its
///   own is served by the `AnyKey` registration, for that key. Its lifetime then applies per key: a
///   singleton is created once per key, a scoped service once per scope and key.
/// - Asked for, `get_all_keyed::<T, _>(&AnyKey)` lists every keyed registration of `T` (not the
///   `AnyKey` one), in registration order; a single `get_keyed::<T, _>(&AnyKey)` is an error.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{AnyKey, ServiceCollection};
///
/// let provider = ServiceCollection::new()
///     .add_keyed_singleton_instance("eu", String::from("eu-west-1"))
///     .add_keyed_singleton::<String, _>(AnyKey, |_| Ok(Arc::new(String::from("default"))))
///     .build()?;
/// assert_eq!(*provider.get_keyed::<String, _>(&"eu")?, "eu-west-1");
/// assert_eq!(*provider.get_keyed::<String, _>(&"us")?, "default"); // the fallback
/// assert_eq!(provider.get_all_keyed::<String, _>(&AnyKey)?.len(), 1); // "eu" only
/// assert!(provider.get_keyed::<String, _>(&AnyKey).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnyKey;

/// A registration's key, type-erased. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ServiceKey(Arc<dyn KeyValue>);

impl ServiceKey {
    pub(crate) fn new<K: Eq + Hash + Send + Sync + 'static>(key: K) -> Self {
        Self(Arc::new(Typed(key)))
    }

    #[inline]
    pub(crate) fn matches<K: Eq + 'static>(&self, key: &K) -> bool {
        self.0.as_any().downcast_ref::<K>() == Some(key)
    }

    pub(crate) fn hash_for(&self, service: TypeId) -> u64 {
        self.0.hash_for(service)
    }

    pub(crate) fn as_any(&self) -> &dyn Any {
        self.0.as_any()
    }

    /// Whether this is the key [`AnyKey`].
    pub(crate) fn is_any(&self) -> bool {
        self.matches(&AnyKey)
    }

    pub(crate) fn describe(&self) -> String {
        self.0.describe()
    }

    /// Equality between two erased keys: same type and equal values.
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.0.eq_dyn(other.0.as_any())
    }
}

impl fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.describe())
    }
}
