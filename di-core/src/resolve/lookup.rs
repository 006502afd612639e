//! What the public lookups share: the parts a handle or a resolver resolves through, and
//! [`KeyedLookup`], the lookups under one key.

use std::any::type_name;
use std::sync::Arc;

use super::chain::Chain;
use super::context::Resolver;
use super::request::Resolvable;
use super::source::Source;
use crate::error::ResolveError;
use crate::key::Key;
use crate::provider::ServiceProvider;
use crate::registry::Core;
use crate::scope::ScopeState;

/// An `Arc` either borrowed from an owning handle or upgraded from a weak one.
pub(crate) enum Held<'a, T> {
    Borrowed(&'a Arc<T>),
    Owned(Arc<T>),
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = Arc<T>;
    #[inline]
    fn deref(&self) -> &Arc<T> {
        match self {
            Self::Borrowed(a) => a,
            Self::Owned(a) => a,
        }
    }
}

/// What one lookup resolves through, held for its duration.
pub(crate) struct Parts<'a> {
    pub(crate) core: Held<'a, Core>,
    pub(crate) scope: Held<'a, ScopeState>,
    pub(crate) chain: Chain<'a>,
}

impl<'a> Parts<'a> {
    #[inline]
    pub(crate) fn source(&self) -> Source<'_, 'a> {
        Source { core: &self.core, scope: &self.scope, chain: &self.chain }
    }
}

/// Where a keyed lookup goes.
#[derive(Clone, Copy)]
enum Via<'a> {
    Provider(&'a ServiceProvider),
    Resolver(&'a Resolver<'a>),
}

/// The lookups under one key, from [`ServiceProvider::keyed`] or [`Resolver::keyed`]: the same
/// as the unkeyed ones, for registrations made with
/// [`ServiceCollection::keyed`](crate::ServiceCollection::keyed). A key without a registration
/// of its own is served by the [`AnyKey`](crate::AnyKey) registration, if there is one, for that
/// key. Asked with `&AnyKey`, `resolve::<Vec<Arc<T>>>()` lists every keyed registration of `T`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{AnyKey, ServiceCollection};
/// let mut services = ServiceCollection::new();
/// services.keyed("eu").add_singleton::<String>(|_| Ok(Arc::new("eu-west-1".into())));
/// services.keyed("us").add_singleton::<String>(|_| Ok(Arc::new("us-east-1".into())));
/// let provider = services.build()?;
///
/// assert_eq!(*provider.keyed(&"eu").get::<String>()?, "eu-west-1");
/// assert!(provider.keyed(&"ap").resolve::<Option<Arc<String>>>()?.is_none());
/// assert_eq!(provider.keyed(&AnyKey).resolve::<Vec<Arc<String>>>()?.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyedLookup<'a, K> {
    via: Via<'a>,
    key: &'a K,
}

impl<K> std::fmt::Debug for KeyedLookup<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLookup").field("key_type", &type_name::<K>()).finish_non_exhaustive()
    }
}

impl<'a, K: Key> KeyedLookup<'a, K> {
    pub(crate) fn provider(provider: &'a ServiceProvider, key: &'a K) -> Self {
        Self { via: Via::Provider(provider), key }
    }

    pub(crate) fn resolver(resolver: &'a Resolver<'a>, key: &'a K) -> Self {
        Self { via: Via::Resolver(resolver), key }
    }

    fn parts(&self, service: &'static str) -> Result<Parts<'a>, ResolveError> {
        match self.via {
            Via::Provider(p) => p.parts(service),
            Via::Resolver(r) => r.parts(service),
        }
    }

    /// The last registration of `T` under the key.
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotRegistered`] naming the key (value and type) when nothing serves it;
    /// otherwise as [`ServiceProvider::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.keyed("hot").add_singleton::<String>(|_| Ok(Arc::new("redis://hot".into())));
    /// let provider = services.build()?;
    /// assert_eq!(*provider.keyed(&"hot").get::<String>()?, "redis://hot");
    /// let missing = provider.keyed(&String::from("hot")).get::<String>().unwrap_err();
    /// assert!(missing.to_string().contains(r#"key "hot" (alloc::string::String)"#), "{missing}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        self.resolve::<Arc<T>>()
    }

    /// Async [`get`](Self::get): awaits async factories.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{BoxError, Lifetime, ServiceCollection, Source};
    /// let mut services = ServiceCollection::new();
    /// services.keyed(1u8).add(Lifetime::Singleton, Source::from_async_fn(|_| async { Ok::<_, BoxError>(Arc::new(7u32)) }));
    /// let provider = services.build()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// assert_eq!(*rt.block_on(provider.keyed(&1u8).get_async::<u32>())?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        self.resolve_async::<Arc<T>>().await
    }

    /// Resolves `R` (`Arc<T>`, `Option<Arc<T>>` or `Vec<Arc<T>>`, see [`Resolvable`]) under the key.
    ///
    /// # Errors
    ///
    /// As [`ServiceProvider::resolve`]; a single resolve asked with `&AnyKey` is
    /// [`ResolveError::AnyKeySingle`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.keyed("eu").add_singleton::<u8>(|_| Ok(Arc::new(1)));
    /// services.keyed("eu").add_singleton::<u8>(|_| Ok(Arc::new(2)));
    /// let provider = services.build()?;
    /// assert_eq!(provider.keyed(&"eu").resolve::<Vec<Arc<u8>>>()?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve<R: Resolvable>(&self) -> Result<R, ResolveError> {
        let parts = self.parts(R::service().1)?;
        R::resolve_keyed(&parts.source(), self.key)
    }

    /// Async [`resolve`](Self::resolve).
    ///
    /// # Errors
    ///
    /// As [`resolve`](Self::resolve).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// assert!(rt.block_on(provider.keyed(&"eu").resolve_async::<Option<Arc<u8>>>())?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn resolve_async<R: Resolvable>(&self) -> Result<R, ResolveError> {
        let parts = self.parts(R::service().1)?;
        R::resolve_keyed_async(&parts.source(), self.key).await
    }

    /// Whether `T` can be resolved under the key (its own registration, or an `AnyKey` one).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let mut services = di_core::ServiceCollection::new();
    /// services.keyed("eu").add_singleton::<u8>(|_| Ok(Arc::new(1)));
    /// let provider = services.build()?;
    /// assert!(provider.keyed(&"eu").contains::<u8>());
    /// assert!(!provider.keyed(&"us").contains::<u8>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains<T: ?Sized + 'static>(&self) -> bool {
        self.parts(type_name::<T>()).is_ok_and(|p| p.source().is_keyed_service::<T, K>(self.key))
    }
}
