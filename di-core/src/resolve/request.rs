//! [`Resolvable`]: the requested type says what a resolve returns. One implementation per shape
//! serves every lookup, `depends_on`, `Dependencies` and the derive.

use std::any::{TypeId, type_name};
use std::future::Future;
use std::sync::Arc;

use super::source::Source;
use crate::descriptor::DependencyKind;
use crate::error::ResolveError;
use crate::key::Key;

/// What a resolve can return: `Arc<T>` (the last registration of `T`; an error if there is
/// none), `Option<Arc<T>>` (`None` if there is none), `Vec<Arc<T>>` (every registration, in
/// order). `T` may be a trait object.
///
/// Used by [`ServiceProvider::resolve`](crate::ServiceProvider::resolve) and
/// [`Resolver::resolve`](crate::Resolver::resolve), by
/// [`Registration::depends_on`](crate::Registration::depends_on) and
/// [`Dependencies::add`](crate::Dependencies::add) to declare the same thing, and by
/// `#[derive(Injectable)]` for each field. Implemented for those three shapes only (sealed).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{Lifetime, ServiceCollection, Source};
/// struct Plugin(u8);
/// struct Metrics;
/// let mut services = ServiceCollection::new();
/// services.add(Lifetime::Singleton, Source::instance(Plugin(1)));
/// services.add(Lifetime::Singleton, Source::instance(Plugin(2)));
/// let provider = services.build()?;
///
/// let last: Arc<Plugin> = provider.resolve()?;
/// let all: Vec<Arc<Plugin>> = provider.resolve()?;
/// let metrics: Option<Arc<Metrics>> = provider.resolve()?;
/// assert_eq!((last.0, all.len(), metrics.is_none()), (2, 2, true));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be resolved",
    label = "not `Arc<T>`, `Option<Arc<T>>` or `Vec<Arc<T>>`",
    note = "ask for `Arc<{Self}>` (or `Option<Arc<_>>`, `Vec<Arc<_>>`), or use `get::<{Self}>()`"
)]
pub trait Resolvable: Sized + Send + 'static + sealed::Request {}

impl<T: ?Sized + Send + Sync + 'static> Resolvable for Arc<T> {}
impl<T: ?Sized + Send + Sync + 'static> Resolvable for Option<Arc<T>> {}
impl<T: ?Sized + Send + Sync + 'static> Resolvable for Vec<Arc<T>> {}

pub(crate) mod sealed {
    use super::*;

    /// How each shape resolves; not nameable outside the crate, so the set stays closed.
    pub trait Request: Sized {
        /// How a declared dependency of this shape is checked.
        const KIND: DependencyKind;
        /// The service type asked for.
        fn service() -> (TypeId, &'static str);
        fn resolve(src: &Source<'_, '_>) -> Result<Self, ResolveError>;
        fn resolve_keyed<K: Key>(src: &Source<'_, '_>, key: &K) -> Result<Self, ResolveError>;
        fn resolve_async(src: &Source<'_, '_>) -> impl Future<Output = Result<Self, ResolveError>> + Send;
        fn resolve_keyed_async<K: Key>(
            src: &Source<'_, '_>,
            key: &K,
        ) -> impl Future<Output = Result<Self, ResolveError>> + Send;
    }

    impl<T: ?Sized + Send + Sync + 'static> Request for Arc<T> {
        const KIND: DependencyKind = DependencyKind::One;
        fn service() -> (TypeId, &'static str) {
            (TypeId::of::<T>(), type_name::<T>())
        }
        #[inline]
        fn resolve(src: &Source<'_, '_>) -> Result<Self, ResolveError> {
            src.get()
        }
        fn resolve_keyed<K: Key>(src: &Source<'_, '_>, key: &K) -> Result<Self, ResolveError> {
            src.get_keyed(key)
        }
        fn resolve_async(src: &Source<'_, '_>) -> impl Future<Output = Result<Self, ResolveError>> + Send {
            src.get_async()
        }
        fn resolve_keyed_async<K: Key>(
            src: &Source<'_, '_>,
            key: &K,
        ) -> impl Future<Output = Result<Self, ResolveError>> + Send {
            src.get_keyed_async(key)
        }
    }

    impl<T: ?Sized + Send + Sync + 'static> Request for Option<Arc<T>> {
        const KIND: DependencyKind = DependencyKind::Optional;
        fn service() -> (TypeId, &'static str) {
            (TypeId::of::<T>(), type_name::<T>())
        }
        fn resolve(src: &Source<'_, '_>) -> Result<Self, ResolveError> {
            src.get_optional()
        }
        fn resolve_keyed<K: Key>(src: &Source<'_, '_>, key: &K) -> Result<Self, ResolveError> {
            src.get_keyed_optional(key)
        }
        fn resolve_async(src: &Source<'_, '_>) -> impl Future<Output = Result<Self, ResolveError>> + Send {
            src.get_optional_async()
        }
        fn resolve_keyed_async<K: Key>(
            src: &Source<'_, '_>,
            key: &K,
        ) -> impl Future<Output = Result<Self, ResolveError>> + Send {
            src.get_keyed_optional_async(key)
        }
    }

    impl<T: ?Sized + Send + Sync + 'static> Request for Vec<Arc<T>> {
        const KIND: DependencyKind = DependencyKind::All;
        fn service() -> (TypeId, &'static str) {
            (TypeId::of::<T>(), type_name::<T>())
        }
        fn resolve(src: &Source<'_, '_>) -> Result<Self, ResolveError> {
            src.get_all()
        }
        fn resolve_keyed<K: Key>(src: &Source<'_, '_>, key: &K) -> Result<Self, ResolveError> {
            src.get_all_keyed(key)
        }
        fn resolve_async(src: &Source<'_, '_>) -> impl Future<Output = Result<Self, ResolveError>> + Send {
            src.get_all_async()
        }
        fn resolve_keyed_async<K: Key>(
            src: &Source<'_, '_>,
            key: &K,
        ) -> impl Future<Output = Result<Self, ResolveError>> + Send {
            src.get_all_keyed_async(key)
        }
    }
}
