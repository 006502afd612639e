//! Constructor injection: types that build themselves from a provider and declare what they need.

use std::any::{TypeId, type_name};
use std::hash::Hash;
use std::sync::Arc;

use crate::descriptor::{Dependency, DependencyKind};
use crate::key::ServiceKey;
use crate::resolve::Resolver;

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
/// use di_core::{Dependencies, FromProvider, Resolver, ServiceCollection};
///
/// struct Db;
/// struct Repo { db: Arc<Db> }
///
/// impl FromProvider for Repo {
///     fn from_provider(sp: &Resolver<'_>) -> anyhow::Result<Self> {
///         Ok(Repo { db: sp.get()? })
///     }
///     fn dependencies(deps: &mut Dependencies) {
///         deps.one::<Db>();
///     }
/// }
///
/// let mut services = ServiceCollection::new();
/// services.add_scoped_type::<Repo>();
/// assert!(services.build().is_err()); // `Db` is missing, caught at build()
/// services.add_singleton::<Db>(|_| Ok(Arc::new(Db)));
/// let provider = services.build()?;
/// let scope = provider.create_scope()?;
/// assert!(Arc::ptr_eq(&scope.get::<Repo>()?.db, &provider.get::<Db>()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be constructed by the container",
    label = "not injectable",
    note = "derive it with `#[derive(Injectable)]` (feature `derive`), implement `FromProvider` for `{Self}`, \
            or register a factory with `add_singleton`, `add_scoped` or `add_transient`"
)]
pub trait FromProvider: Sized + Send + Sync + 'static {
    /// Builds the value, resolving its dependencies from `provider`.
    ///
    /// # Errors
    ///
    /// Whatever resolving a dependency (or your own code) fails with.
    fn from_provider(provider: &Resolver<'_>) -> anyhow::Result<Self>;

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
/// use di_core::Dependencies;
/// struct Db;
/// struct Metrics;
/// let mut deps = Dependencies::default();
/// deps.one::<Db>().optional::<Metrics>();
/// assert_eq!(deps.len(), 2);
/// ```
#[derive(Debug, Default, Clone)]
pub struct Dependencies {
    pub(crate) list: Vec<Dependency>,
}

impl Dependencies {
    fn push<D: ?Sized + 'static>(&mut self, key: Option<ServiceKey>, kind: DependencyKind) -> &mut Self {
        self.list.push(Dependency { service: TypeId::of::<D>(), name: type_name::<D>(), key, kind });
        self
    }

    /// A required dependency, resolved with `get::<D>()` (`Arc<D>` fields).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut deps = di_core::Dependencies::default();
    /// deps.one::<u32>();
    /// assert_eq!(deps.len(), 1);
    /// ```
    pub fn one<D: ?Sized + 'static>(&mut self) -> &mut Self {
        self.push::<D>(None, DependencyKind::One)
    }

    /// An optional dependency, resolved with `get_optional::<D>()` (`Option<Arc<D>>` fields).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut deps = di_core::Dependencies::default();
    /// deps.optional::<u32>();
    /// assert_eq!(deps.len(), 1);
    /// ```
    pub fn optional<D: ?Sized + 'static>(&mut self) -> &mut Self {
        self.push::<D>(None, DependencyKind::Optional)
    }

    /// Every registration of `D`, resolved with `get_all::<D>()` (`Vec<Arc<D>>` fields).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut deps = di_core::Dependencies::default();
    /// deps.all::<u32>();
    /// assert_eq!(deps.len(), 1);
    /// ```
    pub fn all<D: ?Sized + 'static>(&mut self) -> &mut Self {
        self.push::<D>(None, DependencyKind::All)
    }

    /// A required keyed dependency, resolved with `get_keyed::<D, K>(&key)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut deps = di_core::Dependencies::default();
    /// deps.keyed::<u32, _>("primary");
    /// assert_eq!(deps.len(), 1);
    /// ```
    pub fn keyed<D: ?Sized + 'static, K: Eq + Hash + Send + Sync + 'static>(&mut self, key: K) -> &mut Self {
        self.push::<D>(Some(ServiceKey::new(key)), DependencyKind::One)
    }

    /// An optional keyed dependency, resolved with `get_keyed_optional::<D, K>(&key)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut deps = di_core::Dependencies::default();
    /// deps.keyed_optional::<u32, _>("primary");
    /// assert_eq!(deps.len(), 1);
    /// ```
    pub fn keyed_optional<D: ?Sized + 'static, K: Eq + Hash + Send + Sync + 'static>(&mut self, key: K) -> &mut Self {
        self.push::<D>(Some(ServiceKey::new(key)), DependencyKind::Optional)
    }

    /// Every registration of `D` under `key`, resolved with `get_all_keyed::<D, K>(&key)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut deps = di_core::Dependencies::default();
    /// deps.keyed_all::<u32, _>("replicas");
    /// assert_eq!(deps.len(), 1);
    /// ```
    pub fn keyed_all<D: ?Sized + 'static, K: Eq + Hash + Send + Sync + 'static>(&mut self, key: K) -> &mut Self {
        self.push::<D>(Some(ServiceKey::new(key)), DependencyKind::All)
    }

    /// How many dependencies were declared.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_core::Dependencies::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether none was declared.
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

/// Converts an `Arc<Self>` into an `Arc<S>`: what lets [`ServiceCollection::add_scoped_as`]
/// (and its siblings) register an implementation as a service type, typically a trait object.
///
/// Every type provides itself. For a trait, `#[derive(Injectable)]` implements it when you list
/// the trait in `#[injectable(provides(dyn MyTrait))]`; by hand, the body is always `self` (the
/// compiler performs the unsizing coercion, which generic code cannot spell on stable Rust).
///
/// [`ServiceCollection::add_scoped_as`]: crate::ServiceCollection::add_scoped_as
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use di_core::{FromProvider, Provides, Resolver, ServiceCollection};
///
/// trait Clock: Send + Sync { fn now(&self) -> u64; }
/// struct Fixed;
/// impl Clock for Fixed { fn now(&self) -> u64 { 7 } }
/// impl FromProvider for Fixed {
///     fn from_provider(_: &Resolver<'_>) -> anyhow::Result<Self> { Ok(Fixed) }
/// }
/// impl Provides<dyn Clock> for Fixed {
///     fn provide(self: Arc<Self>) -> Arc<dyn Clock> { self }
/// }
///
/// let provider = ServiceCollection::new().add_singleton_as::<dyn Clock, Fixed>().build()?;
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
