//! The lookups every handle forwards to: by type, optional, all, keyed; sync and async.

use std::any::type_name;
use std::sync::Arc;

use super::chain::Chain;
use super::create::Target;
use crate::descriptor::Instance;
use crate::error::KeyLabel;
use crate::error::{ResolutionPath, ResolveError};
use crate::key::Key;
use crate::registry::{Core, Unkeyed, is_any_key};
use crate::scope::ScopeState;

/// What a resolve goes through: the registry, the scope it happens in, and the creations it is
/// nested in.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations, reason = "internal: public only so the sealed `Request` trait can name it")]
pub struct Source<'s, 'c> {
    pub(crate) core: &'s Arc<Core>,
    pub(crate) scope: &'s Arc<ScopeState>,
    pub(crate) chain: &'s Chain<'c>,
}

/// Recovers the typed `Arc<T>` from an erased instance. Registrations are typed when added, so
/// a mismatch is a bug in this crate, not a user error.
#[inline(always)]
pub(crate) fn downcast<T: ?Sized + 'static>(instance: &Instance) -> Arc<T> {
    instance.downcast_ref::<T>().expect("di-core stores every instance under its registered service type").clone()
}

/// [`downcast`] for an instance the caller owns: moved out, no reference count changes.
#[inline(always)]
pub(crate) fn downcast_owned<T: ?Sized + 'static>(instance: Instance) -> Arc<T> {
    match instance.into_arc::<T>() {
        Ok(arc) => arc,
        Err(_) => panic!("di-core stores every instance under its registered service type"),
    }
}

/// Whether the scope or the root has been disposed: both flags read, one branch.
#[inline(always)]
pub(crate) fn disposed(core: &Core, scope: &ScopeState) -> bool {
    scope.is_disposed() | core.is_disposed()
}

impl<'s, 'c> Source<'s, 'c> {
    /// Fails if the scope or the root has been disposed.
    #[inline]
    pub(crate) fn live(&self, service: &'static str) -> Result<(), ResolveError> {
        if !disposed(self.core, self.scope) {
            return Ok(());
        }
        if self.scope.is_disposed() {
            return Err(self.scope.disposed_error(service));
        }
        if self.core.is_disposed() {
            return Err(self.core.root.disposed_error(service));
        }
        Ok(())
    }

    pub(crate) fn path(&self) -> ResolutionPath {
        ResolutionPath::new(self.chain.path())
    }

    #[cold]
    fn not_registered<T: ?Sized>(&self, key: Option<KeyLabel>) -> ResolveError {
        ResolveError::NotRegistered { service: type_name::<T>(), key, path: self.path() }
    }

    /// Resolves one slot: a created singleton is one atomic load away.
    #[inline]
    fn resolve<T: ?Sized + Send + Sync + 'static>(&self, slot: u32) -> Result<Arc<T>, ResolveError> {
        let target = Target::slot(self.core, slot);
        if let Some(instance) = target.cell.get() {
            return Ok(downcast(instance));
        }
        self.resolve_at(target)
    }

    pub(crate) fn get<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        self.live(type_name::<T>())?;
        match self.core.unkeyed::<T>() {
            Some(unkeyed) => match unkeyed.cell.get() {
                Some(instance) => Ok(downcast(instance)),
                None => self.resolve_at(Target::unkeyed(unkeyed)),
            },
            None => Err(self.not_registered::<T>(None)),
        }
    }

    /// Resolves the uncached `unkeyed` entry of `T`, its disposed check and probe already done
    /// (by [`ServiceProvider::get`](crate::ServiceProvider::get)'s inline part).
    #[inline]
    pub(crate) fn create_unkeyed<T: ?Sized + Send + Sync + 'static>(
        &self,
        unkeyed: &Unkeyed,
    ) -> Result<Arc<T>, ResolveError> {
        self.resolve_at(Target::unkeyed(unkeyed))
    }

    pub(crate) fn get_optional<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Option<Arc<T>>, ResolveError> {
        self.live(type_name::<T>())?;
        self.core.unkeyed::<T>().map(|u| self.resolve(u.entry.last)).transpose()
    }

    pub(crate) fn get_all<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Vec<Arc<T>>, ResolveError> {
        self.live(type_name::<T>())?;
        let slots = self.core.unkeyed::<T>().map_or(&[][..], |u| self.core.slots_of(&u.entry));
        self.resolve_each(slots)
    }

    /// Resolves each slot, in order, into a vector sized up front (collecting into a `Result`
    /// cannot know the length, and grows the vector by doubling).
    fn resolve_each<T: ?Sized + Send + Sync + 'static>(&self, slots: &[u32]) -> Result<Vec<Arc<T>>, ResolveError> {
        let mut out = Vec::with_capacity(slots.len());
        for &slot in slots {
            out.push(self.resolve(slot)?);
        }
        Ok(out)
    }

    pub(crate) fn get_keyed<T, K>(&self, key: &K) -> Result<Arc<T>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Key,
    {
        self.get_keyed_optional(key)?.ok_or_else(|| self.not_registered::<T>(Some(KeyLabel::of(key))))
    }

    pub(crate) fn get_keyed_optional<T, K>(&self, key: &K) -> Result<Option<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Key,
    {
        self.live(type_name::<T>())?;
        if !is_any_key::<K>()
            && let Some(entry) = self.core.find_keyed::<T, K>(key)
        {
            return self.resolve(entry.last).map(Some);
        }
        if is_any_key::<K>() {
            return Err(ResolveError::AnyKeySingle { service: type_name::<T>(), path: self.path() });
        }
        let Some((slot, per_key)) = self.core.fallback::<T, K>(key) else { return Ok(None) };
        self.resolve_at(Target::per_key(slot, &per_key)).map(Some)
    }

    pub(crate) fn get_all_keyed<T, K>(&self, key: &K) -> Result<Vec<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Key,
    {
        self.live(type_name::<T>())?;
        let slots = self.core.all_keyed::<T, K>(key).unwrap_or_default();
        self.resolve_each(slots)
    }

    pub(crate) fn is_service<T: ?Sized + 'static>(&self) -> bool {
        self.live(type_name::<T>()).is_ok() && self.core.has_unkeyed::<T>()
    }

    pub(crate) fn is_keyed_service<T: ?Sized + 'static, K: Key>(&self, key: &K) -> bool {
        use crate::key::AnyKey;
        self.live(type_name::<T>()).is_ok()
            && if is_any_key::<K>() {
                self.core.lists_keyed::<T>()
            } else {
                self.core.find_keyed::<T, K>(key).is_some() || self.core.find_keyed::<T, AnyKey>(&AnyKey).is_some()
            }
    }

    // ===== async =====

    async fn resolve_async<T: ?Sized + Send + Sync + 'static>(&self, slot: u32) -> Result<Arc<T>, ResolveError> {
        let target = Target::slot(self.core, slot);
        if let Some(instance) = target.cell.get() {
            return Ok(downcast(instance));
        }
        self.resolve_at_async(target).await
    }

    pub(crate) async fn get_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Arc<T>, ResolveError> {
        self.live(type_name::<T>())?;
        match self.core.unkeyed::<T>() {
            Some(unkeyed) => self.resolve_async(unkeyed.entry.last).await,
            None => Err(self.not_registered::<T>(None)),
        }
    }

    pub(crate) async fn get_optional_async<T: ?Sized + Send + Sync + 'static>(
        &self,
    ) -> Result<Option<Arc<T>>, ResolveError> {
        self.live(type_name::<T>())?;
        match self.core.unkeyed::<T>() {
            Some(unkeyed) => self.resolve_async(unkeyed.entry.last).await.map(Some),
            None => Ok(None),
        }
    }

    pub(crate) async fn get_all_async<T: ?Sized + Send + Sync + 'static>(&self) -> Result<Vec<Arc<T>>, ResolveError> {
        self.live(type_name::<T>())?;
        let slots = self.core.unkeyed::<T>().map_or(&[][..], |u| self.core.slots_of(&u.entry));
        let mut out = Vec::with_capacity(slots.len());
        for &slot in slots {
            out.push(self.resolve_async(slot).await?);
        }
        Ok(out)
    }

    pub(crate) async fn get_keyed_async<T, K>(&self, key: &K) -> Result<Arc<T>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Key,
    {
        self.get_keyed_optional_async(key).await?.ok_or_else(|| self.not_registered::<T>(Some(KeyLabel::of(key))))
    }

    pub(crate) async fn get_keyed_optional_async<T, K>(&self, key: &K) -> Result<Option<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Key,
    {
        self.live(type_name::<T>())?;
        if !is_any_key::<K>()
            && let Some(slot) = self.core.find_keyed::<T, K>(key).map(|e| e.last)
        {
            return self.resolve_async(slot).await.map(Some);
        }
        if is_any_key::<K>() {
            return Err(ResolveError::AnyKeySingle { service: type_name::<T>(), path: self.path() });
        }
        let Some((slot, per_key)) = self.core.fallback::<T, K>(key) else { return Ok(None) };
        self.resolve_at_async(Target::per_key(slot, &per_key)).await.map(Some)
    }

    pub(crate) async fn get_all_keyed_async<T, K>(&self, key: &K) -> Result<Vec<Arc<T>>, ResolveError>
    where
        T: ?Sized + Send + Sync + 'static,
        K: Key,
    {
        self.live(type_name::<T>())?;
        let slots = self.core.all_keyed::<T, K>(key).unwrap_or_default();
        let mut out = Vec::with_capacity(slots.len());
        for &slot in slots {
            out.push(self.resolve_async(slot).await?);
        }
        Ok(out)
    }
}
