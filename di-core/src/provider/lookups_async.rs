//! `ServiceProvider`'s async lookups: the same as the sync ones, awaiting async factories.

use std::any::type_name;
use std::hash::Hash;
use std::sync::Arc;

use super::{ServiceProvider, TOP_LEVEL};
use crate::error::ResolveError;
use crate::resolve::Source;

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
        let (core, scope) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &TOP_LEVEL }.get_async().await
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
        let (core, scope) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &TOP_LEVEL }.get_optional_async().await
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
        let (core, scope) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &TOP_LEVEL }.get_all_async().await
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
        let (core, scope) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &TOP_LEVEL }.get_keyed_async(key).await
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
        let (core, scope) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &TOP_LEVEL }.get_keyed_optional_async(key).await
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
        let (core, scope) = self.parts(type_name::<T>())?;
        Source { core: &core, scope: &scope, chain: &TOP_LEVEL }.get_all_keyed_async(key).await
    }
}
