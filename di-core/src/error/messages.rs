//! Message text that [`ResolveError`](super::ResolveError) and
//! [`ValidationError`](super::ValidationError) share: one place, so the two say the same thing
//! the same way.

use std::fmt;

use super::{KeyLabel, ResolutionPath};
use crate::lifetime::Lifetime;

/// " (required by `a` -> `b`)", or nothing at the top level.
pub(super) struct RequiredBy<'a>(pub(super) &'a ResolutionPath);

impl fmt::Display for RequiredBy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { Ok(()) } else { write!(f, " (required by {})", self.0) }
    }
}

/// " with key \"eu\" (&str)", or nothing for an unkeyed service.
pub(super) struct WithKey<'a>(pub(super) &'a Option<KeyLabel>);

impl fmt::Display for WithKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(k) => write!(f, " with key {k}"),
            None => Ok(()),
        }
    }
}

pub(super) struct Cycle<'a>(pub(super) &'a str, pub(super) &'a ResolutionPath);

impl fmt::Display for Cycle<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dependency cycle detected for `{}`: {}; break the cycle, for example by resolving one side later through `Arc<ServiceProvider>`",
            self.0, self.1
        )
    }
}

/// The captive-dependency message; with a fixed lifetime (`.3`), the singleton cannot be made
/// scoped, so only the per-unit-of-work scope is suggested.
pub(super) struct Captured<'a>(pub(super) &'a str, pub(super) &'a str, pub(super) &'a ResolutionPath, pub(super) bool);

impl fmt::Display for Captured<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(singleton, scoped, path, fixed) = self;
        if *fixed {
            return write!(
                f,
                "singleton `{singleton}` captures scoped service `{scoped}`{}; `{singleton}` is always a singleton, so resolve `{scoped}` from a scope created per unit of work (`provider.create_scope()` per tick or item, through an `Arc<ServiceProvider>` that `{singleton}` keeps) instead of capturing it",
                RequiredBy(path)
            );
        }
        write!(
            f,
            "singleton `{singleton}` captures scoped service `{scoped}`{}; resolve `{scoped}` from a scope created per unit of work with `create_scope()` (through an `Arc<ServiceProvider>` that `{singleton}` keeps), or make `{singleton}` scoped if it need not be a singleton",
            RequiredBy(path)
        )
    }
}

/// The registration call a missing-dependency hint suggests.
pub(super) struct AddCall(pub(super) bool, pub(super) Lifetime);

impl fmt::Display for AddCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keyed = if self.0 { "keyed(key)." } else { "" };
        write!(f, "services.{keyed}add_{}", self.1)
    }
}
