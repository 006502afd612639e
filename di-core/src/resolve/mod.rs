//! Resolution: one model for sync and async lookups.
//!
//! A [`Source`] is what every lookup resolves through: the built registry, the scope the
//! resolve happens in, and the chain of creations it is nested in (empty for a lookup on a
//! plain [`ServiceProvider`] handle; a factory's [`Resolver`] carries its own). Sync and async
//! lookups share the claim protocol ([`once`] for singletons, [`ScopeState`] for scoped
//! services), cycle detection (the chain) and deadlock detection ([`waits`]); they differ only in
//! how they run the factory and how they wait.
//!
//! The rules, in one place:
//! - A registration already on the chain is a cycle.
//! - A creation's identity is its own, so waits inside one resolution (`join!` in an async
//!   factory) never mistake a sibling for themselves.
//! - A sync resolve that meets a creation owned by an async factory fails at once with
//!   [`ResolveError::AsyncFactory`]: it cannot drive that future, so waiting could hang.
//! - Async dependencies a sync factory declared are created before its cell is claimed, never
//!   while holding it.
//! - The disposed check is part of the claim, so no factory starts for a disposed scope or
//!   root, and a waiter woken by disposal gets [`ResolveError::Disposed`].
//!
//! [`ServiceProvider`]: crate::ServiceProvider

pub(crate) mod chain;
mod context;
mod create;
pub(crate) mod lookup;
pub(crate) mod occupancy;
pub(crate) mod once;
pub(crate) mod per_key;
mod request;
pub(crate) mod scoped;
mod source;
pub(crate) mod waits;

pub use self::context::Resolver;
pub use self::lookup::KeyedLookup;
pub use self::request::Resolvable;
pub(crate) use self::source::{Source, disposed, downcast_owned};
