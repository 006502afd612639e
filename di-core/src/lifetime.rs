use std::fmt;

/// How long a service instance lives, and who shares it.
///
/// | lifetime | created | shared by | disposed |
/// |---|---|---|---|
/// | [`Singleton`](Lifetime::Singleton) | once per root provider | every scope | when the root is disposed |
/// | [`Scoped`](Lifetime::Scoped) | once per scope | that scope | when the scope ends |
/// | [`Transient`](Lifetime::Transient) | on every resolve | nobody | when the scope that created it ends |
///
/// # Examples
///
/// ```
/// use di_core::Lifetime;
///
/// assert_eq!(Lifetime::Scoped.to_string(), "scoped");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lifetime {
    /// One instance per root provider, created on first use and shared by every scope.
    Singleton,
    /// One instance per scope, created on first use within that scope.
    Scoped,
    /// A new instance on every resolve.
    Transient,
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Singleton => "singleton",
            Self::Scoped => "scoped",
            Self::Transient => "transient",
        })
    }
}
