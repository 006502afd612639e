//! Type-erased service keys: any `Eq + Hash + Send + Sync + 'static` value.

use std::any::{Any, TypeId};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::FxHasher;

use crate::error::KeyLabel;

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
    fn label(&self) -> KeyLabel;
}

struct Typed<K>(K);

impl<K: Key> KeyValue for Typed<K> {
    fn as_any(&self) -> &dyn Any {
        &self.0
    }
    fn eq_dyn(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<K>() == Some(&self.0)
    }
    fn hash_for(&self, service: TypeId) -> u64 {
        keyed_hash(service, &self.0)
    }
    fn label(&self) -> KeyLabel {
        KeyLabel::of(&self.0)
    }
}

/// What a service key must be: any `Eq + Hash + Clone + Debug + Send + Sync + 'static` value,
/// such as a `&'static str`, a `String`, an integer or an enum of your own. `Debug` is what
/// messages about keys show, next to the key's type.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::ServiceCollection;
///
/// #[derive(Debug, Clone, PartialEq, Eq, Hash)]
/// enum Region { Eu, Us }
///
/// let mut services = ServiceCollection::new();
/// services.keyed(Region::Eu).add_singleton::<String>(|_| Ok(Arc::new("eu-west-1".into())));
/// let provider = services.build()?;
/// assert_eq!(*provider.keyed(&Region::Eu).get::<String>()?, "eu-west-1");
/// let err = provider.keyed(&Region::Us).get::<String>().unwrap_err();
/// let label = format!("with key Us ({})", std::any::type_name::<Region>());
/// assert!(err.to_string().contains(&label), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a service key",
    label = "not `Eq + Hash + Clone + Debug + Send + Sync + 'static`",
    note = "derive what is missing: `#[derive(Debug, Clone, PartialEq, Eq, Hash)]`"
)]
pub trait Key: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static {}

impl<K: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static> Key for K {}

/// The key that stands for every key, as MS.DI's `KeyedService.AnyKey`.
///
/// - Registered under `AnyKey` (`services.keyed(AnyKey).add_singleton(...)`, or any other
///   source), a service is the fallback for single keyed resolves of its type: a
///   [`keyed`](crate::ServiceProvider::keyed) lookup with a key that has no registration of its
///   own is served by the `AnyKey` registration, for that key, and its factory receives that key
///   ([`Resolver::key`](crate::Resolver::key)). Its lifetime then applies per key: a singleton is
///   created once per key, a scoped service once per scope and key.
/// - Asked for, `keyed(&AnyKey).resolve::<Vec<Arc<T>>>()` lists every keyed registration of `T`
///   (not the `AnyKey` one), in registration order; a single `keyed(&AnyKey).get::<T>()` is an
///   error.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{AnyKey, ServiceCollection};
///
/// let mut services = ServiceCollection::new();
/// services.keyed("eu").add_singleton::<String>(|_| Ok(Arc::new("eu-west-1".into())));
/// services.keyed(AnyKey).add_singleton::<String>(|sp| Ok(Arc::new(format!("{:?}", sp.key::<&str>()))));
/// let provider = services.build()?;
/// assert_eq!(*provider.keyed(&"eu").get::<String>()?, "eu-west-1");
/// assert_eq!(*provider.keyed(&"us").get::<String>()?, r#"Some("us")"#); // the fallback, given the key
/// assert_eq!(provider.keyed(&AnyKey).resolve::<Vec<Arc<String>>>()?.len(), 1); // "eu" only
/// assert!(provider.keyed(&AnyKey).get::<String>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnyKey;

/// A registration's key, type-erased. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ServiceKey(Arc<dyn KeyValue>);

impl ServiceKey {
    pub(crate) fn new<K: Key>(key: K) -> Self {
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

    pub(crate) fn label(&self) -> KeyLabel {
        self.0.label()
    }

    /// Equality between two erased keys: same type and equal values.
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.0.eq_dyn(other.0.as_any())
    }
}

impl fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.label())
    }
}
