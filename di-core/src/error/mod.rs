//! Errors: [`ResolveError`] when a service cannot be produced, [`BuildError`] when a collection
//! cannot become a provider, [`DisposeError`] when disposal hooks fail.

use std::fmt;

use crate::lifetime::Lifetime;

mod boxed;
mod dispose;
mod messages;

pub(crate) use self::boxed::into_box_error;

pub use self::dispose::{DisposeError, DisposeFailure};
use self::messages::{Captured, Cycle, RequiredBy, WithKey};

/// A boxed error from user code (a factory or a disposal hook), as
/// [`ResolveError::Factory`] and [`DisposeFailure::Failed`] carry it in `source`.
///
/// # Examples
///
/// ```
/// let err: di_core::error::BoxError = "connection refused".into();
/// assert_eq!(err.to_string(), "connection refused");
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The chain of services being resolved, outermost first: `a` -> `b` -> `c`.
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// use di_core::{ResolveError, ServiceCollection};
///
/// struct Repo;
/// struct Db;
/// let mut services = ServiceCollection::new();
/// services.add_singleton::<Repo>(|sp| {
///     sp.get::<Db>()?;
///     Ok(Arc::new(Repo))
/// });
/// let provider = services.build()?;
/// let Err(ResolveError::NotRegistered { path, .. }) = provider.get::<Repo>() else { panic!() };
/// assert_eq!(path.services().len(), 1);
/// assert!(path.to_string().ends_with("Repo`"));
/// # Ok::<(), di_core::BuildError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolutionPath(Vec<&'static str>);

impl ResolutionPath {
    pub(crate) fn new(services: Vec<&'static str>) -> Self {
        Self(services)
    }

    /// The services on the path, outermost first, as `std::any::type_name` spells them.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = di_core::ResolutionPath::default();
    /// assert!(path.services().is_empty());
    /// ```
    pub fn services(&self) -> &[&'static str] {
        &self.0
    }

    /// Whether the path is empty (the failing service was requested directly).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_core::ResolutionPath::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ResolutionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "`{s}`")?;
        }
        Ok(())
    }
}

/// What a [`ResolveError::Disposed`] found disposed.
///
/// # Examples
///
/// ```
/// use di_core::error::DisposedScope;
/// assert_eq!(DisposedScope::Scope.to_string(), "scope");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisposedScope {
    /// The root provider (and so every scope of it).
    Root,
    /// The scope the resolve went through.
    Scope,
}

impl fmt::Display for DisposedScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Root => "service provider",
            Self::Scope => "scope",
        })
    }
}

/// A service key as errors report it: its value (`Debug`) and its type, so a `String` key and
/// a `&str` registration, which never match, read differently.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let mut services = di_core::ServiceCollection::new();
/// services.keyed("eu").add_singleton::<u8>(|_| Ok(Arc::new(1)));
/// let provider = services.build()?;
/// let err = provider.keyed(&String::from("eu")).get::<u8>().unwrap_err();
/// let di_core::ResolveError::NotRegistered { key: Some(key), .. } = &err else { panic!("{err}") };
/// assert_eq!((key.value(), key.type_name()), ("\"eu\"", "alloc::string::String"));
/// assert_eq!(key.to_string(), "\"eu\" (alloc::string::String)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLabel {
    // `Box<str>`, not `String`: every `Result<_, ResolveError>` carries this field's size.
    value: Box<str>,
    type_name: &'static str,
}

impl KeyLabel {
    pub(crate) fn of<K: fmt::Debug + 'static>(key: &K) -> Self {
        Self { value: format!("{key:?}").into_boxed_str(), type_name: std::any::type_name::<K>() }
    }

    /// The key's value, as its `Debug` output.
    ///
    /// # Examples
    ///
    /// See [`KeyLabel`].
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The key's type name.
    ///
    /// # Examples
    ///
    /// See [`KeyLabel`].
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl fmt::Display for KeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.type_name == std::any::type_name::<crate::AnyKey>() {
            return f.write_str("`AnyKey`");
        }
        write!(f, "{} ({})", self.value, self.type_name)
    }
}

/// Why a [`ServiceProvider`](crate::ServiceProvider) could not produce a service.
///
/// Every variant names the requested type as `std::any::type_name` spells it and, where there is
/// one, the resolution path that led to it, outermost first. The message ends with one hint.
///
/// # Examples
///
/// ```
/// use di_core::{ResolveError, ServiceCollection};
///
/// let provider = ServiceCollection::new().build()?;
/// let err = provider.get::<u32>().unwrap_err();
/// assert!(matches!(err, ResolveError::NotRegistered { .. }));
/// assert_eq!(
///     err.to_string(),
///     "no service registered for `u32`; register it on the `ServiceCollection` before `build()`"
/// );
/// # Ok::<(), di_core::BuildError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
// A plain word-sized tag: `Ok` in a `Result<Arc<T>, ResolveError>` is then a small tag value,
// tested with one compare on every lookup (a niche in a field needs a 64-bit immediate). Not
// `u8`: a byte tag written then read back stalls store forwarding (criterion: the cached
// singleton took twice as long at the same instruction count).
#[repr(u64)]
pub enum ResolveError {
    /// No registration exists for the type (and key, if any).
    #[error(
        "no service registered for `{service}`{}{}; register it on the `ServiceCollection` before `build()`",
        WithKey(key),
        RequiredBy(path)
    )]
    NotRegistered {
        /// The type that was requested.
        service: &'static str,
        /// The key, rendered, for keyed lookups.
        key: Option<KeyLabel>,
        /// The services whose factories asked for it, outermost first.
        path: ResolutionPath,
    },

    /// A single service was requested with the key [`AnyKey`](crate::AnyKey): it matches every
    /// key, so there is no one service to return.
    #[error(
        "`AnyKey` cannot resolve a single service `{service}`{}; use `keyed(&AnyKey).resolve::<Vec<Arc<_>>>()` for every keyed registration",
        RequiredBy(path)
    )]
    AnyKeySingle {
        /// The type that was requested.
        service: &'static str,
        /// The services whose factories asked for it, outermost first.
        path: ResolutionPath,
    },

    /// Resolving the type requires itself.
    #[error("{}", Cycle(service, path))]
    Cycle {
        /// The service that closed the cycle.
        service: &'static str,
        /// The full cycle, outermost first, ending with the repeated service.
        path: ResolutionPath,
    },

    /// A scoped service was requested from the root provider while scope validation is on.
    #[error(
        "scoped service `{service}` resolved from the root provider{}; resolve it from a scope created with `create_scope()`",
        RequiredBy(path)
    )]
    ScopedFromRoot {
        /// The scoped service.
        service: &'static str,
        /// The services whose factories asked for it, outermost first.
        path: ResolutionPath,
    },

    /// A singleton depends on a scoped service and would keep it alive past its scope.
    #[error("{}", Captured(singleton, scoped, path, false))]
    CapturedScoped {
        /// The nearest singleton on the path.
        singleton: &'static str,
        /// The scoped service it asked for.
        scoped: &'static str,
        /// The services whose factories asked for the scoped service, outermost first.
        path: ResolutionPath,
    },

    /// The user's factory returned an error.
    #[error("factory for `{service}` failed{}; see the source error", RequiredBy(path))]
    Factory {
        /// The service whose factory failed.
        service: &'static str,
        /// The services whose factories asked for it, outermost first.
        path: ResolutionPath,
        /// What the factory returned.
        #[source]
        source: BoxError,
    },

    /// The user's factory panicked; the panic was caught, not propagated.
    #[error(
        "factory for `{service}` panicked with message {message:?}{}; the container is still usable and the next resolve tries again",
        RequiredBy(path)
    )]
    FactoryPanicked {
        /// The service whose factory panicked.
        service: &'static str,
        /// The panic payload, if it was a string.
        message: String,
        /// The services whose factories asked for it, outermost first.
        path: ResolutionPath,
    },

    /// The service (or one of its dependencies) has an async factory and was asked for synchronously.
    #[error("service `{service}` has an async factory{}; resolve it with `get_async().await`", RequiredBy(path))]
    AsyncFactory {
        /// The service with the async factory.
        service: &'static str,
        /// The services whose factories asked for it, outermost first.
        path: ResolutionPath,
    },

    /// The provider or scope was disposed.
    #[error("cannot resolve `{service}`: the {scope} has been disposed; resolve from a live provider or scope")]
    Disposed {
        /// The service that was requested.
        service: &'static str,
        /// What was disposed: the root provider or the scope resolved from.
        scope: DisposedScope,
    },
}

impl ResolveError {
    /// Whether this is [`ResolveError::NotRegistered`].
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(provider.get::<u8>().unwrap_err().is_not_registered());
    /// # Ok::<(), di_core::BuildError>(())
    /// ```
    pub fn is_not_registered(&self) -> bool {
        matches!(self, Self::NotRegistered { .. })
    }

    /// Whether this is [`ResolveError::Cycle`].
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// assert!(!provider.get::<u8>().unwrap_err().is_cycle());
    /// # Ok::<(), di_core::BuildError>(())
    /// ```
    pub fn is_cycle(&self) -> bool {
        matches!(self, Self::Cycle { .. })
    }

    /// Whether this is [`ResolveError::Disposed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = di_core::ServiceCollection::new().build()?;
    /// provider.dispose_sync()?;
    /// assert!(provider.get::<u8>().unwrap_err().is_disposed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_disposed(&self) -> bool {
        matches!(self, Self::Disposed { .. })
    }
}

/// Why [`ServiceCollection::build`](crate::ServiceCollection::build) refused a collection.
///
/// `Display` lists every problem on its own line, in the order of the registration each belongs
/// to; [`problems`](Self::problems) gives them as data.
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// use di_core::{BuildError, ServiceCollection};
///
/// struct Repo;
/// struct Db;
/// let mut services = ServiceCollection::new();
/// services.add_singleton::<Repo>(|sp| Ok(Arc::new(Repo))).depends_on::<Arc<Db>>();
/// let err = services.build().unwrap_err();
/// assert!(matches!(err, BuildError::Invalid { .. }));
/// let (repo, db) = (std::any::type_name::<Repo>(), std::any::type_name::<Db>());
/// assert_eq!(
///     err.to_string(),
///     format!(
///         "the service collection has 1 problem:\n  \
///          - no service registered for `{db}` (required by `{repo}`); \
///          register it with `services.add_singleton` before `build()`"
///     )
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Validation found problems; every one is listed, each with the registration it belongs to.
    #[error("{}", render_problems(problems))]
    Invalid {
        /// Every problem found, in the order of the registration each belongs to.
        problems: Vec<ValidationError>,
    },
}

impl BuildError {
    /// Every problem validation found.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::{ServiceCollection, ValidationError};
    /// struct A;
    /// struct B;
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<A>(|_| Ok(A.into())).depends_on::<Arc<B>>();
    /// services.add_singleton::<B>(|_| Ok(B.into())).depends_on::<Arc<A>>();
    /// let err = services.build().unwrap_err();
    /// assert!(matches!(err.problems(), [ValidationError::Cycle { .. }]));
    /// ```
    pub fn problems(&self) -> &[ValidationError] {
        match self {
            Self::Invalid { problems } => problems,
        }
    }

    /// Takes the problems out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct A;
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<A>(|_| Ok(A.into())).depends_on::<Arc<A>>();
    /// assert_eq!(services.build().unwrap_err().into_problems().len(), 1);
    /// ```
    pub fn into_problems(self) -> Vec<ValidationError> {
        match self {
            Self::Invalid { problems } => problems,
        }
    }
}

fn render_problems(problems: &[ValidationError]) -> String {
    let mut s =
        format!("the service collection has {} problem{}:", problems.len(), if problems.len() == 1 { "" } else { "s" });
    for p in problems {
        s.push_str("\n  - ");
        s.push_str(&p.to_string());
    }
    s
}

/// One problem found by build-time validation of declared dependencies.
///
/// Paths use the same text as the matching [`ResolveError`] at run time: outermost first,
/// starting at the first registration (in registration order) from which the problem is
/// reachable, which is the registration the problem is reported for.
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// use di_core::{BuildError, ServiceCollection, ValidationError};
///
/// struct A;
/// let mut services = ServiceCollection::new();
/// services.add_singleton::<A>(|_| Ok(Arc::new(A))).depends_on::<Arc<A>>();
/// let BuildError::Invalid { problems } = services.build().unwrap_err() else { unreachable!() };
/// assert!(matches!(problems[0], ValidationError::Cycle { .. }));
/// let a = std::any::type_name::<A>();
/// assert_eq!(
///     problems[0].to_string(),
///     format!(
///         "dependency cycle detected for `{a}`: `{a}` -> `{a}`; \
///          break the cycle, for example by resolving one side later through `Arc<ServiceProvider>`"
///     )
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required dependency (plain or keyed) has no registration.
    #[error(
        "no service registered for `{dependency}`{}{}; register it with `{}` before `build()`",
        WithKey(key),
        RequiredBy(path),
        messages::AddCall(key.is_some(), *lifetime)
    )]
    MissingDependency {
        /// The registration that declared the dependency.
        service: &'static str,
        /// The missing dependency.
        dependency: &'static str,
        /// The key, rendered, for keyed dependencies.
        key: Option<KeyLabel>,
        /// The lifetime of the declaring registration: registering the dependency with it is
        /// always legal, so the hint suggests it.
        lifetime: Lifetime,
        /// From the registration being validated to the one that declared the dependency.
        path: ResolutionPath,
    },

    /// A dependency cycle, self-cycles included.
    #[error("{}", Cycle(service, path))]
    Cycle {
        /// The service that closes the cycle (the repeated one).
        service: &'static str,
        /// From the registration being validated round the cycle, ending with the repeated
        /// service; the cycle starts at the first mention of `service`.
        path: ResolutionPath,
    },

    /// A singleton depends, directly or through transients, on a scoped service.
    #[error("{}", Captured(singleton, scoped, path, *lifetime_fixed))]
    CapturedScoped {
        /// The nearest singleton above the scoped service.
        singleton: &'static str,
        /// Whether the singleton's lifetime is fixed by whoever registered it
        /// ([`Registration::lifetime_fixed`](crate::Registration::lifetime_fixed), as
        /// di-hosting does for hosted services): the hint then only suggests a scope per unit
        /// of work, not making the singleton scoped.
        lifetime_fixed: bool,
        /// The scoped service.
        scoped: &'static str,
        /// From the registration being validated down to the one that asks for the scoped
        /// service (which is not repeated).
        path: ResolutionPath,
    },

    /// An instance made beforehand ([`Source::instance`](crate::Source::instance)) registered
    /// with another lifetime than singleton: the container cannot create it per scope or per
    /// resolve.
    #[error(
        "`{service}` is registered as a {lifetime} instance; an instance is shared, so register it with `Lifetime::Singleton`, or give it a factory"
    )]
    InstanceNotSingleton {
        /// The service registered with an instance.
        service: &'static str,
        /// The lifetime it was registered with.
        lifetime: Lifetime,
        /// The registration alone.
        path: ResolutionPath,
    },
}

impl ValidationError {
    /// The registration the problem is reported for: the first element of its path.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Repo;
    /// struct Db;
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<Repo>(|_| Ok(Repo.into())).depends_on::<Arc<Db>>();
    /// let err = services.build().unwrap_err();
    /// assert_eq!(err.problems()[0].registration(), std::any::type_name::<Repo>());
    /// ```
    pub fn registration(&self) -> &'static str {
        self.path().services().first().copied().unwrap_or_default()
    }

    /// The path, outermost first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct A;
    /// let mut services = ServiceCollection::new();
    /// services.add_transient::<A>(|_| Ok(A.into())).depends_on::<Arc<A>>();
    /// let err = services.build().unwrap_err();
    /// assert_eq!(err.problems()[0].path().services().len(), 2); // A -> A
    /// ```
    pub fn path(&self) -> &ResolutionPath {
        match self {
            Self::MissingDependency { path, .. }
            | Self::Cycle { path, .. }
            | Self::CapturedScoped { path, .. }
            | Self::InstanceNotSingleton { path, .. } => path,
        }
    }
}

/// Extracts a panic payload's message the way tokio's `JoinError` does.
/// The text of a panic payload (`&str` or `String`), for reporting a caught panic; used by
/// `di-hosting` for hosted services too.
///
/// # Examples
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
/// assert_eq!(di_core::error::panic_message(&*payload), "boom 1");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
