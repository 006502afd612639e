//! Disposal hooks: what the container runs when the scope that created an instance ends.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;

use futures_util::FutureExt;

use crate::error::{BoxError, DisposeFailure, panic_message};

/// A boxed, sendable future, as factories and async hooks return.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Synchronous clean-up the container runs when the scope that created the instance ends.
///
/// Register it with [`Registration::disposable`](crate::Registration::disposable), or pass any
/// closure to [`Registration::on_dispose`](crate::Registration::on_dispose). The error, of any
/// type convertible into [`BoxError`] (`std::io::Error`, your own, `anyhow::Error`), is kept whole
/// as the source of [`DisposeFailure::Failed`], so it can be downcast to `Self::Error`.
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use di_core::{Dispose, ServiceCollection};
///
/// #[derive(Default)]
/// struct Pool { closed: AtomicBool }
/// impl Dispose for Pool {
///     type Error = std::io::Error;
///     fn dispose(&self) -> std::io::Result<()> {
///         self.closed.store(true, Ordering::SeqCst);
///         Ok(())
///     }
/// }
///
/// let mut services = ServiceCollection::new();
/// services.add_singleton::<Pool>(|_| Ok(Arc::new(Pool::default()))).disposable();
/// let provider = services.build()?;
/// let pool = provider.get::<Pool>()?;
/// provider.dispose_sync()?;
/// assert!(pool.closed.load(Ordering::SeqCst));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Dispose: Send + Sync {
    /// What `dispose` fails with: any error convertible into [`BoxError`].
    type Error: Into<BoxError> + 'static;

    /// Releases what the instance holds. Called at most once per instance.
    fn dispose(&self) -> Result<(), Self::Error>;
}

/// Asynchronous clean-up the container awaits when the scope that created the instance ends.
///
/// Awaited by [`Scope::dispose`](crate::Scope::dispose) and
/// [`ServiceProvider::dispose`](crate::ServiceProvider::dispose); a synchronous disposal
/// (`dispose_sync`, or dropping a [`Scope`](crate::Scope)) cannot run it and reports
/// [`DisposeFailure::AsyncOnly`] instead of blocking. Its error is kept whole, as
/// [`Dispose`]'s is.
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// use di_core::{AsyncDispose, BoxError, ServiceCollection};
///
/// struct Channel;
/// impl AsyncDispose for Channel {
///     type Error = BoxError;
///     async fn dispose_async(&self) -> Result<(), BoxError> {
///         Ok(()) // flush and close the channel here
///     }
/// }
///
/// let mut services = ServiceCollection::new();
/// services.add_scoped::<Channel>(|_| Ok(Arc::new(Channel))).async_disposable();
/// # let _ = services.build()?;
/// # Ok::<(), di_core::BuildError>(())
/// ```
pub trait AsyncDispose: Send + Sync {
    /// What `dispose_async` fails with: any error convertible into [`BoxError`].
    type Error: Into<BoxError> + 'static;

    /// Releases what the instance holds. Awaited at most once per instance.
    fn dispose_async(&self) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

pub(crate) type SyncHook = Box<dyn FnOnce() -> Result<(), BoxError> + Send>;
pub(crate) type AsyncHook = Box<dyn FnOnce() -> BoxFuture<Result<(), BoxError>> + Send>;

/// The hooks of one created instance, ready to run.
pub(crate) struct Disposer {
    pub(crate) service: &'static str,
    pub(crate) sync: Option<SyncHook>,
    pub(crate) asynchronous: Option<AsyncHook>,
}

impl std::fmt::Debug for Disposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disposer").field("service", &self.service).finish_non_exhaustive()
    }
}

impl Disposer {
    /// Runs the sync hook; an instance with only an async hook is reported, not blocked on.
    pub(crate) fn run_sync(self) -> Result<(), DisposeFailure> {
        let service = self.service;
        let Some(hook) = self.sync else {
            return Err(DisposeFailure::AsyncOnly { service });
        };
        match catch_unwind(AssertUnwindSafe(hook)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DisposeFailure::Failed { service, source: e }),
            Err(p) => Err(DisposeFailure::Panicked { service, message: panic_message(&*p) }),
        }
    }

    /// Awaits the async hook if there is one (it is preferred), else runs the sync hook.
    pub(crate) async fn run_async(self) -> Result<(), DisposeFailure> {
        let service = self.service;
        let Some(hook) = self.asynchronous else {
            return self.run_sync();
        };
        let result = match catch_unwind(AssertUnwindSafe(hook)) {
            Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
            Err(p) => Err(p),
        };
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DisposeFailure::Failed { service, source: e }),
            Err(p) => Err(DisposeFailure::Panicked { service, message: panic_message(&*p) }),
        }
    }
}
