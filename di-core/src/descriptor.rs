//! One registration: service type, key, lifetime, factory, disposal hooks, declared dependencies.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use crate::dispose::{AsyncHook, BoxFuture, Disposer, SyncHook};
use crate::error::BoxError;
use crate::key::ServiceKey;
use crate::lifetime::Lifetime;
use crate::resolve::Resolver;

/// A created instance, type-erased: the service's `Arc<T>` itself (see [`crate::instance`]).
pub(crate) use crate::instance::Instance;

/// Erases a service's `Arc<T>` into an [`Instance`].
#[inline]
pub(crate) fn erase<T: ?Sized + Send + Sync + 'static>(value: Arc<T>) -> Instance {
    Instance::new(value)
}

/// A sync factory returning the service as its own type.
pub(crate) type TypedFactory<T> = Arc<dyn Fn(&Resolver<'_>) -> Result<Arc<T>, BoxError> + Send + Sync>;
pub(crate) type ErasedFactory = Arc<dyn Fn(&Resolver<'_>) -> Result<Instance, BoxError> + Send + Sync>;
pub(crate) type AsyncFactory = Arc<dyn Fn(Resolver<'static>) -> BoxFuture<Result<Instance, BoxError>> + Send + Sync>;

/// A sync factory, callable two ways: typed, for transients (the caller gets the `Arc<T>` with
/// no type-erased wrapper around it), and erased, for the instances a cell or scope caches.
#[derive(Clone)]
pub(crate) struct SyncFactory {
    pub(crate) erased: ErasedFactory,
    /// A `TypedFactory<T>` of the registration's service type, erased as an [`Instance`] (a
    /// `TypeId` compare to recover it, no virtual call).
    typed: Instance,
}

impl SyncFactory {
    pub(crate) fn new<T: ?Sized + Send + Sync + 'static>(
        f: impl Fn(&Resolver<'_>) -> Result<Arc<T>, BoxError> + Send + Sync + 'static,
    ) -> Self {
        // The erased factory calls the closure itself, not through the typed one: one indirect
        // call per creation, not two.
        let f = Arc::new(f);
        let call = f.clone();
        let typed: TypedFactory<T> = f;
        Self { erased: Arc::new(move |r| call(r).map(erase)), typed: Instance::new(typed) }
    }

    /// The factory as `T`'s; `None` only if `T` is not the registration's service type.
    #[inline]
    pub(crate) fn typed<T: ?Sized + 'static>(&self) -> Option<&TypedFactory<T>> {
        self.typed.downcast_ref::<dyn Fn(&Resolver<'_>) -> Result<Arc<T>, BoxError> + Send + Sync>()
    }
}

/// How a registration produces its instance.
#[derive(Clone)]
pub(crate) enum Factory {
    Sync(SyncFactory),
    Async(AsyncFactory),
    /// A user-supplied instance: handed out as is, never disposed.
    Instance(Instance),
    /// Built in: the resolving provider itself.
    Provider,
    /// Built in: the root's scope factory.
    Scopes,
    /// Another registration's instance, under this registration's service type
    /// ([`Registration::also_as`](crate::Registration::also_as)).
    Alias(Alias),
}

/// Another registration's instance exposed under a second service type: resolving it resolves
/// the target (the registration a resolve of the target's type and key uses) and casts its
/// `Arc`, so both types hand out the one instance. An alias has no cell, claim or creation of
/// its own; its declared lifetime only serves validation.
#[derive(Clone)]
pub(crate) struct Alias {
    /// The target's type and key (also declared as the alias's one dependency, so `build()`
    /// checks it like any other).
    pub(crate) target: Dependency,
    /// The target's slot, bound by `build()`; `None` before, or when there is no target (an
    /// error at resolve time, reported at build time when validation is on).
    pub(crate) slot: Option<u32>,
    /// Turns the target's instance (its `Arc<T>`) into this type's `Arc<S>`: an
    /// [`AliasCast<S>`], erased as an [`Instance`] (a `TypeId` compare recovers it, and the
    /// caller gets the `Arc<S>` itself, not an instance to unwrap again).
    cast: Instance,
}

/// An alias's cast, to its own service type `S`.
pub(crate) type AliasCast<S> = Arc<dyn Fn(Instance) -> Arc<S> + Send + Sync>;

impl Alias {
    pub(crate) fn new<S: ?Sized + Send + Sync + 'static>(target: Dependency, cast: AliasCast<S>) -> Self {
        Self { target, slot: None, cast: Instance::new(cast) }
    }

    /// The target's `instance` as the alias's own type `S`.
    #[inline]
    pub(crate) fn cast<S: ?Sized + 'static>(&self, instance: Instance) -> Arc<S> {
        let cast = self
            .cast
            .downcast_ref::<dyn Fn(Instance) -> Arc<S> + Send + Sync>()
            .expect("an alias is resolved as its own service type");
        cast(instance)
    }
}

impl Factory {
    pub(crate) fn is_async(&self) -> bool {
        matches!(self, Self::Async(_))
    }

    /// How it is described in messages and `Debug` output.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Sync(_) => "factory",
            Self::Async(_) => "async factory",
            Self::Instance(_) => "instance",
            Self::Provider | Self::Scopes => "built in",
            Self::Alias(_) => "alias",
        }
    }
}

/// Turns the created instance (its `Arc<T>`, as `&dyn Any`) into its disposal hooks.
pub(crate) type MakeSyncHook = Arc<dyn Fn(&dyn Any) -> SyncHook + Send + Sync>;
pub(crate) type MakeAsyncHook = Arc<dyn Fn(&dyn Any) -> AsyncHook + Send + Sync>;

/// How a declared dependency is consumed; decides whether a missing registration is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyKind {
    /// `Arc<T>`: required.
    One,
    /// `Option<Arc<T>>`: may be missing.
    Optional,
    /// `Vec<Arc<T>>`: every registration, possibly none.
    All,
}

/// A dependency a registration declared, for build-time validation.
#[derive(Clone)]
pub(crate) struct Dependency {
    pub(crate) service: TypeId,
    pub(crate) name: &'static str,
    pub(crate) key: Option<ServiceKey>,
    pub(crate) kind: DependencyKind,
}

impl fmt::Debug for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dependency")
            .field("name", &self.name)
            .field("key", &self.key)
            .field("kind", &self.kind)
            .finish()
    }
}

/// One registration.
#[derive(Clone)]
pub(crate) struct Descriptor {
    pub(crate) service: TypeId,
    pub(crate) name: &'static str,
    /// The implementation type, or the factory closure's type (for `try_add_enumerable`).
    pub(crate) implementation: TypeId,
    /// The implementation's name when the registration maps a type of the user's to the service
    /// (`Source::implemented_by`): what validation messages name, since a trait object such as
    /// `dyn HostedService` says nothing about which registration is wrong.
    pub(crate) implementation_name: Option<&'static str>,
    pub(crate) key: Option<ServiceKey>,
    pub(crate) lifetime: Lifetime,
    pub(crate) factory: Factory,
    pub(crate) sync_hook: Option<MakeSyncHook>,
    pub(crate) async_hook: Option<MakeAsyncHook>,
    pub(crate) dependencies: Vec<Dependency>,
    /// Whoever registered it requires this lifetime (a hosted service is always a singleton):
    /// a captive-dependency hint must not suggest changing it.
    pub(crate) lifetime_fixed: bool,
}

impl Descriptor {
    /// The name messages use for this registration: the user's implementation type if known.
    pub(crate) fn display_name(&self) -> &'static str {
        self.implementation_name.unwrap_or(self.name)
    }

    /// Whether instances of this registration have disposal hooks.
    #[inline]
    pub(crate) fn has_hooks(&self) -> bool {
        self.sync_hook.is_some() || self.async_hook.is_some()
    }

    /// The hooks for a freshly created instance (its `Arc<T>`), or `None` when there is nothing
    /// to run. User-supplied instances never get here: the container did not create them.
    #[inline]
    pub(crate) fn disposer_for(&self, instance: &dyn Any) -> Option<Disposer> {
        if !self.has_hooks() {
            return None;
        }
        Some(Disposer {
            service: self.name,
            sync: self.sync_hook.as_ref().map(|make| make(instance)),
            asynchronous: self.async_hook.as_ref().map(|make| make(instance)),
        })
    }
}

impl fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} service `{}` ({})", self.lifetime, self.name, self.factory.kind())?;
        if let Some(key) = &self.key {
            write!(f, " with key {}", key.label())?;
        }
        Ok(())
    }
}
