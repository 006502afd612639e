//! [`DisposeFailure`] and [`DisposeError`]: disposal hooks that did not complete.

use super::BoxError;

/// One disposal hook that did not complete.
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// use di_core::{DisposeFailure, ServiceCollection};
///
/// struct Conn;
/// let mut services = ServiceCollection::new();
/// services
///     .add_singleton::<Conn>(|_| Ok(Arc::new(Conn)))
///     .on_dispose(|_| Err("socket already closed".into()));
/// let provider = services.build()?;
/// provider.get::<Conn>()?;
/// let err = provider.dispose_sync().unwrap_err();
/// let DisposeFailure::Failed { source, .. } = &err.failures()[0] else { panic!("{err}") };
/// assert_eq!(source.to_string(), "socket already closed"); // the cause is the source, not the message
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisposeFailure {
    /// The hook returned an error.
    #[error("disposing `{service}` failed")]
    Failed {
        /// The service being disposed.
        service: &'static str,
        /// What the hook returned.
        #[source]
        source: BoxError,
    },
    /// The hook panicked.
    #[error("disposing `{service}` panicked with message {message:?}")]
    Panicked {
        /// The service being disposed.
        service: &'static str,
        /// The panic payload, if it was a string.
        message: String,
    },
    /// The hook was running when the `dispose()` future running it was dropped (a timeout, say):
    /// it was started and may not have finished. Reported by the next disposal.
    #[error("disposing `{service}` was interrupted: the `dispose()` future running its hook was dropped")]
    Interrupted {
        /// The service being disposed.
        service: &'static str,
    },
    /// Disposal was given up (see
    /// [`ServiceProvider::dispose_until`](crate::ServiceProvider::dispose_until)) before this
    /// service's hook started; it will not run.
    #[error("disposing `{service}` did not start: disposal was given up before its turn")]
    NotRun {
        /// The service whose hook did not run.
        service: &'static str,
    },
    /// The service has only an async hook and was disposed synchronously.
    #[error("`{service}` only has an async disposal hook; dispose the container with `dispose().await`")]
    AsyncOnly {
        /// The service being disposed.
        service: &'static str,
    },
}

/// Every disposal hook that failed while a scope or provider was disposed.
///
/// One failing hook never stops the others: each hook runs, and the failures come back together,
/// in the order the hooks ran (reverse creation order).
///
/// # Examples
///
/// ```
/// use di_core::ServiceCollection;
///
/// let provider = ServiceCollection::new().build()?;
/// assert!(provider.dispose_sync().is_ok());
/// # Ok::<(), di_core::BuildError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{} disposal hook{} failed: {}", failures.len(), if failures.len() == 1 { "" } else { "s" }, render_failures(failures))]
pub struct DisposeError {
    failures: Vec<DisposeFailure>,
}

/// Each failure with its causes: a `DisposeError` has no `source()` (it holds several
/// failures), so this is the one place they are printed.
fn render_failures(failures: &[DisposeFailure]) -> String {
    let mut out = Vec::with_capacity(failures.len());
    for failure in failures {
        let mut text = failure.to_string();
        let mut cause = std::error::Error::source(failure);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        out.push(text);
    }
    out.join("; ")
}

impl DisposeError {
    pub(crate) fn from_failures(failures: Vec<DisposeFailure>) -> Result<(), Self> {
        if failures.is_empty() { Ok(()) } else { Err(Self { failures }) }
    }

    /// The failures, in the order the hooks ran.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// # struct Conn;
    /// # let mut services = ServiceCollection::new();
    /// # services.add_singleton::<Conn>(|_| Ok(Arc::new(Conn))).on_dispose(|_| Err("boom".into()));
    /// # let provider = services.build()?;
    /// # provider.get::<Conn>()?;
    /// let err = provider.dispose_sync().unwrap_err();
    /// assert_eq!(err.failures().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn failures(&self) -> &[DisposeFailure] {
        &self.failures
    }

    /// Takes the failures out.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use di_core::ServiceCollection;
    /// # struct Conn;
    /// # let mut services = ServiceCollection::new();
    /// # services.add_singleton::<Conn>(|_| Ok(Arc::new(Conn))).on_dispose(|_| Err("boom".into()));
    /// # let provider = services.build()?;
    /// # provider.get::<Conn>()?;
    /// let failures = provider.dispose_sync().unwrap_err().into_failures();
    /// assert_eq!(failures.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_failures(self) -> Vec<DisposeFailure> {
        self.failures
    }
}
