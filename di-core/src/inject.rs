//! Constructor injection: types that build themselves from a provider and declare what they need.

use std::sync::Arc;

use crate::descriptor::Dependency;
use crate::error::BoxError;
use crate::key::{Key, ServiceKey};
use crate::resolve::{Resolvable, Resolver};

/// A type the container can construct by resolving its dependencies: what
/// `#[derive(Injectable)]` implements (with the `derive` feature), and what you implement by
/// hand for anything the derive does not cover.
///
/// [`dependencies`](Self::dependencies) declares what [`from_provider`](Self::from_provider)
/// resolves, so that `build()` can check the graph before anything runs.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{BoxError, Dependencies, FromProvider, Lifetime, Resolver, ServiceCollection, Source};
///
/// struct Db;
/// struct Repo { db: Arc<Db> }
///
/// impl FromProvider for Repo {
///     fn from_provider(sp: &Resolver<'_>) -> Result<Self, BoxError> {
///         Ok(Repo { db: sp.get()? })
///     }
///     fn dependencies(deps: &mut Dependencies) {
///         deps.add::<Arc<Db>>();
///     }
/// }
///
/// let mut services = ServiceCollection::new();
/// services.add(Lifetime::Scoped, Source::<Repo>::injected());
/// assert!(services.build().is_err()); // `Db` is missing, caught at build()
/// services.add_singleton::<Db>(|_| Ok(Arc::new(Db)));
/// let provider = services.build()?;
/// let scope = provider.create_scope()?;
/// assert!(Arc::ptr_eq(&scope.provider().get::<Repo>()?.db, &provider.get::<Db>()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be constructed by the container",
    label = "not injectable",
    note = "derive it with `#[derive(Injectable)]` (feature `derive`), implement `FromProvider` for `{Self}`, \
            or register a closure with `add_singleton`, `add_scoped` or `add_transient`"
)]
pub trait FromProvider: Sized + Send + Sync + 'static {
    /// Builds the value, resolving its dependencies from `provider`.
    ///
    /// # Errors
    ///
    /// Whatever resolving a dependency (or your own code) fails with.
    fn from_provider(provider: &Resolver<'_>) -> Result<Self, BoxError>;

    /// Declares the dependencies `from_provider` resolves. The default declares none, so
    /// problems surface at the first resolve rather than at `build()`.
    fn dependencies(deps: &mut Dependencies) {
        let _ = deps;
    }
}

/// The dependencies a registration declares, collected by [`FromProvider::dependencies`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::Dependencies;
/// struct Db;
/// struct Metrics;
/// let mut deps = Dependencies::default();
/// deps.add::<Arc<Db>>().add::<Option<Arc<Metrics>>>();
/// assert_eq!(deps.len(), 2);
/// ```
#[derive(Debug, Default, Clone)]
pub struct Dependencies {
    pub(crate) list: Vec<Dependency>,
}

impl Dependencies {
    /// Declares that `from_provider` resolves `R`: `Arc<D>` (required), `Option<Arc<D>>`
    /// (checked for cycles and captives, not existence) or `Vec<Arc<D>>` (every registration,
    /// possibly none). See [`Resolvable`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let mut deps = di_core::Dependencies::default();
    /// deps.add::<Arc<u32>>().add::<Option<Arc<u8>>>();
    /// assert_eq!(deps.len(), 2);
    /// ```
    pub fn add<R: Resolvable>(&mut self) -> &mut Self {
        self.push::<R>(None)
    }

    /// Declares that `from_provider` resolves `R` under `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let mut deps = di_core::Dependencies::default();
    /// deps.add_keyed::<Arc<String>, _>("primary");
    /// assert_eq!(deps.len(), 1);
    /// ```
    pub fn add_keyed<R: Resolvable, K: Key>(&mut self, key: K) -> &mut Self {
        self.push::<R>(Some(ServiceKey::new(key)))
    }

    fn push<R: Resolvable>(&mut self, key: Option<ServiceKey>) -> &mut Self {
        let (service, name) = R::service();
        self.list.push(Dependency { service, name, key, kind: R::KIND });
        self
    }

    /// How many dependencies are declared.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_core::Dependencies::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether none is declared.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_core::Dependencies::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Converts an `Arc<Self>` into an `Arc<S>`: what lets [`Source::implemented_by`] register an
/// implementation as a service type, typically a trait object.
///
/// Every type provides itself. For a trait, `#[derive(Injectable)]` implements it when you list
/// the trait in `#[injectable(provides(dyn MyTrait))]`; by hand, the body is always `self` (the
/// compiler performs the unsizing coercion, which generic code cannot spell on stable Rust).
///
/// [`Source::implemented_by`]: crate::Source::implemented_by
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{BoxError, FromProvider, Lifetime, Provides, Resolver, ServiceCollection, Source};
///
/// trait Clock: Send + Sync { fn now(&self) -> u64; }
/// struct Fixed;
/// impl Clock for Fixed { fn now(&self) -> u64 { 7 } }
/// impl FromProvider for Fixed {
///     fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> { Ok(Fixed) }
/// }
/// impl Provides<dyn Clock> for Fixed {
///     fn provide(self: Arc<Self>) -> Arc<dyn Clock> { self }
/// }
///
/// let mut services = ServiceCollection::new();
/// services.add(Lifetime::Singleton, Source::<dyn Clock>::implemented_by::<Fixed>());
/// let provider = services.build()?;
/// assert_eq!(provider.get::<dyn Clock>()?.now(), 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not declared to provide `{S}`",
    label = "cannot be registered as `{S}`",
    note = "add `#[injectable(provides({S}))]` next to `#[derive(Injectable)]` on `{Self}`, \
            or implement `Provides<{S}>` for `{Self}` with the body `self`"
)]
pub trait Provides<S: ?Sized>: Send + Sync + 'static {
    /// Upcasts the shared instance.
    fn provide(self: Arc<Self>) -> Arc<S>;
}

#[diagnostic::do_not_recommend]
impl<T: Send + Sync + 'static> Provides<T> for T {
    fn provide(self: Arc<Self>) -> Arc<T> {
        self
    }
}
