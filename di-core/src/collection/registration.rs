//! [`Registration`]: the entry just added, to attach disposal hooks and declare dependencies.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use super::ServiceCollection;
use crate::descriptor::{Alias, Dependency, DependencyKind, Descriptor, Factory};
use crate::dispose::{AsyncDispose, Dispose};
use crate::error::{BoxError, into_box_error};
use crate::inject::Dependencies;
use crate::key::Key;
use crate::resolve::Resolvable;

/// The registration just added: attach disposal hooks, or declare what its factory resolves so
/// [`build`](ServiceCollection::build) can check it. Each method returns the registration, so
/// calls chain.
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// use di_core::ServiceCollection;
/// struct Db;
/// struct Repo;
/// let mut services = ServiceCollection::new();
/// services.add_singleton::<Db>(|_| Ok(Arc::new(Db))).on_dispose(|_db| Ok(()));
/// services
///     .add_scoped::<Repo>(|sp| {
///         sp.get::<Db>()?;
///         Ok(Arc::new(Repo))
///     })
///     .depends_on::<Arc<Db>>();
/// assert_eq!(services.len(), 2);
/// ```
pub struct Registration<'a, T: ?Sized> {
    pub(super) services: &'a mut ServiceCollection,
    pub(super) index: usize,
    pub(super) _service: std::marker::PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized> std::fmt::Debug for Registration<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Registration").field(&self.services.descriptors[self.index]).finish()
    }
}

/// The `Arc<T>` a hook maker is handed as `&dyn Any`.
fn typed<T: ?Sized + 'static>(instance: &dyn Any) -> Arc<T> {
    instance.downcast_ref::<Arc<T>>().expect("di-core hands hooks the instance of their own registration").clone()
}

impl<T: ?Sized + Send + Sync + 'static> Registration<'_, T> {
    fn descriptor(&mut self) -> &mut Descriptor {
        &mut self.services.descriptors[self.index]
    }

    /// Runs `hook` when the scope that created the instance ends (the root, for singletons),
    /// in reverse creation order, exactly once. Never runs for instances made beforehand
    /// ([`Source::instance`](crate::Source::instance)), nor for transients resolved from the
    /// root (the root would have to keep them until the application ends).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use di_core::ServiceCollection;
    /// struct Conn;
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let seen = log.clone();
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<Conn>(|_| Ok(Arc::new(Conn))).on_dispose(move |_| {
    ///     seen.lock().unwrap().push("closed");
    ///     Ok(())
    /// });
    /// let provider = services.build()?;
    /// let scope = provider.create_scope()?;
    /// scope.provider().get::<Conn>()?;
    /// drop(scope);
    /// assert_eq!(*log.lock().unwrap(), ["closed"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_dispose(&mut self, hook: impl Fn(&T) -> Result<(), BoxError> + Send + Sync + 'static) -> &mut Self {
        let hook = Arc::new(hook);
        self.descriptor().sync_hook = Some(Arc::new(move |instance: &dyn Any| {
            let service = typed::<T>(instance);
            let hook = hook.clone();
            Box::new(move || hook(&service))
        }));
        self
    }

    /// Awaits `hook` when the scope that created the instance is disposed with `dispose().await`.
    /// When a sync hook is also attached, the async path prefers this one and the sync path
    /// (`dispose_sync`, dropping a scope) runs the sync one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Channel;
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<Channel>(|_| Ok(Arc::new(Channel))).on_dispose_async(|_channel| async { Ok(()) });
    /// # assert_eq!(services.len(), 1);
    /// ```
    pub fn on_dispose_async<Fut>(&mut self, hook: impl Fn(Arc<T>) -> Fut + Send + Sync + 'static) -> &mut Self
    where
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let hook = Arc::new(hook);
        self.descriptor().async_hook = Some(Arc::new(move |instance: &dyn Any| {
            let service = typed::<T>(instance);
            let hook = hook.clone();
            Box::new(move || Box::pin(hook(service)))
        }));
        self
    }

    /// Uses the service's [`Dispose`] implementation as its sync hook.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{BoxError, Dispose, ServiceCollection};
    /// struct Pool;
    /// impl Dispose for Pool {
    ///     type Error = BoxError;
    ///     fn dispose(&self) -> Result<(), BoxError> { Ok(()) }
    /// }
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Pool>(|_| Ok(Arc::new(Pool))).disposable();
    /// # assert_eq!(services.len(), 1);
    /// ```
    pub fn disposable(&mut self) -> &mut Self
    where
        T: Dispose,
    {
        self.on_dispose(|service: &T| service.dispose().map_err(into_box_error))
    }

    /// Uses the service's [`AsyncDispose`] implementation as its async hook.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::{AsyncDispose, BoxError, ServiceCollection};
    /// struct Pool;
    /// impl AsyncDispose for Pool {
    ///     type Error = BoxError;
    ///     async fn dispose_async(&self) -> Result<(), BoxError> { Ok(()) }
    /// }
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<Pool>(|_| Ok(Arc::new(Pool))).async_disposable();
    /// # assert_eq!(services.len(), 1);
    /// ```
    pub fn async_disposable(&mut self) -> &mut Self
    where
        T: AsyncDispose + Sized,
    {
        self.on_dispose_async(|service: Arc<T>| async move { service.dispose_async().await.map_err(into_box_error) })
    }

    /// Declares that the factory resolves `R` (`Arc<D>`, `Option<Arc<D>>` or `Vec<Arc<D>>`,
    /// as with [`resolve`](crate::ServiceProvider::resolve)), so
    /// [`build`](ServiceCollection::build) checks that a required `D` exists, that it is not
    /// part of a cycle, and that a singleton does not capture a scoped `D`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Db;
    /// struct Metrics;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services
    ///     .add_singleton::<Repo>(|sp| {
    ///         sp.get::<Db>()?;
    ///         sp.resolve::<Option<Arc<Metrics>>>()?;
    ///         Ok(Arc::new(Repo))
    ///     })
    ///     .depends_on::<Arc<Db>>()
    ///     .depends_on::<Option<Arc<Metrics>>>();
    /// assert!(services.build().is_err()); // `Db` is missing: caught before any resolve
    /// ```
    pub fn depends_on<R: Resolvable>(&mut self) -> &mut Self {
        let mut deps = Dependencies::default();
        deps.add::<R>();
        self.descriptor().dependencies.extend(deps.list);
        self
    }

    /// Also exposes this registration's instance as the service type `S`: resolving `S` (alone
    /// or among `Vec<Arc<S>>`, in the order this call added it) gives the very `Arc` that
    /// resolving `T` gives, turned into `Arc<S>` by `cast` (for a trait object, `|t| t`). It is
    /// how one instance serves as its own type and as a trait it implements, as .NET's
    /// `AddSingleton<IService>(sp => sp.GetRequiredService<Impl>())` does, without a second
    /// instance, a factory or a lookup per resolve: the alias has no cache of its own, and
    /// resolving `S` costs resolving `T` (for a created singleton, a cached resolve) plus the
    /// cast, one indirect call.
    ///
    /// The alias is unkeyed and has this registration's lifetime; its target is what a resolve
    /// of `T` with this registration's key uses (the last such registration), bound at `build()`.
    /// It adds no disposal hooks (the target's run once), and validation names it after this
    /// registration (`T`, or its implementation type), so a problem in `T` is reported once,
    /// for `T`. Calling it again with the same `S` for the same type and key adds nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use di_core::ServiceCollection;
    ///
    /// trait Greeter: Send + Sync {
    ///     fn greet(&self) -> &'static str;
    /// }
    /// struct English;
    /// impl Greeter for English {
    ///     fn greet(&self) -> &'static str { "hello" }
    /// }
    ///
    /// let mut services = ServiceCollection::new();
    /// services.add_singleton::<English>(|_| Ok(Arc::new(English))).also_as::<dyn Greeter>(|e| e);
    /// let provider = services.build()?;
    /// let greeter = provider.get::<dyn Greeter>()?;
    /// assert_eq!(greeter.greet(), "hello");
    /// assert!(Arc::ptr_eq(&greeter, &(provider.get::<English>()? as Arc<dyn Greeter>)), "one instance");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn also_as<S>(&mut self, cast: impl Fn(Arc<T>) -> Arc<S> + Send + Sync + 'static) -> &mut Self
    where
        S: ?Sized + Send + Sync + 'static,
    {
        let d = &self.services.descriptors[self.index];
        let target = Dependency { service: d.service, name: d.name, key: d.key.clone(), kind: DependencyKind::One };
        let service = std::any::TypeId::of::<S>();
        let key_hash = target.key.as_ref().map_or(0, |k| k.hash_for(target.service));
        let new_triple = self.services.alias_targets.insert((service, target.service, key_hash));
        let already = !new_triple
            && self.services.descriptors.iter().any(|other| {
                other.service == service
                    && other.key.is_none()
                    && matches!(&other.factory, Factory::Alias(a) if a.target.service == target.service
                    && match (&a.target.key, &target.key) {
                        (None, None) => true,
                        (Some(a), Some(b)) => a.same_as(b),
                        _ => false,
                    })
            });
        if already {
            return self;
        }
        // By value: the target's `Arc` moves through the cast, no reference count changes.
        let cast: crate::descriptor::AliasCast<S> =
            Arc::new(move |instance| cast(crate::resolve::downcast_owned::<T>(instance)));
        let alias = Descriptor {
            service,
            name: std::any::type_name::<S>(),
            implementation: d.implementation,
            implementation_name: Some(d.display_name()),
            key: None,
            lifetime: d.lifetime,
            factory: Factory::Alias(Alias::new(target.clone(), cast)),
            sync_hook: None,
            async_hook: None,
            lifetime_fixed: false,
            dependencies: vec![target],
        };
        self.services.descriptors.push(alias);
        self
    }

    /// Marks this registration's lifetime as fixed by whoever registered it, as di-hosting does
    /// for hosted and background services (always singletons): when `build()` finds it capturing
    /// a scoped service, the hint suggests resolving that service from a scope per unit of
    /// work, not changing this registration's lifetime
    /// ([`ValidationError::CapturedScoped`](crate::ValidationError::CapturedScoped)'s
    /// `lifetime_fixed`). It changes nothing else.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Session;
    /// struct Poller;
    /// let mut services = ServiceCollection::new();
    /// services.add_scoped::<Session>(|_| Ok(Arc::new(Session)));
    /// services
    ///     .add_singleton::<Poller>(|sp| {
    ///         sp.get::<Session>()?;
    ///         Ok(Arc::new(Poller))
    ///     })
    ///     .depends_on::<Arc<Session>>()
    ///     .lifetime_fixed();
    /// let text = services.build().unwrap_err().to_string();
    /// assert!(text.contains("is always a singleton"), "{text}");
    /// assert!(!text.contains("make"), "no suggestion to change its lifetime: {text}");
    /// ```
    pub fn lifetime_fixed(&mut self) -> &mut Self {
        self.descriptor().lifetime_fixed = true;
        self
    }

    /// Declares that the factory resolves `R` under `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use di_core::ServiceCollection;
    /// struct Cache;
    /// struct Repo;
    /// let mut services = ServiceCollection::new();
    /// services
    ///     .add_singleton::<Repo>(|sp| {
    ///         sp.keyed(&"redis").get::<Cache>()?;
    ///         Ok(Arc::new(Repo))
    ///     })
    ///     .depends_on_keyed::<Arc<Cache>, _>("redis");
    /// assert!(services.build().is_err()); // no `Cache` under "redis"
    /// ```
    pub fn depends_on_keyed<R: Resolvable, K: Key>(&mut self, key: K) -> &mut Self {
        let mut deps = Dependencies::default();
        deps.add_keyed::<R, K>(key);
        self.descriptor().dependencies.extend(deps.list);
        self
    }
}
