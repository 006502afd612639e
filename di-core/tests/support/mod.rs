//! Helpers shared by the disposal tests: a log of which hooks ran, in order.

use std::sync::{Arc, Mutex};

use di_core::BoxError;

/// The entries disposal hooks appended, in the order they ran.
pub(crate) type Log = Arc<Mutex<Vec<&'static str>>>;

/// A sync disposal hook that appends `entry` to `log`.
pub(crate) fn logs<T: ?Sized>(
    log: &Log,
    entry: &'static str,
) -> impl Fn(&T) -> Result<(), BoxError> + Send + Sync + use<T> {
    let log = log.clone();
    move |_| {
        log.lock().unwrap().push(entry);
        Ok(())
    }
}

/// The future an async disposal hook returns.
pub(crate) type HookFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), BoxError>> + Send>>;

/// An async disposal hook that appends `entry` to `log`.
pub(crate) fn logs_async<T: ?Sized>(
    log: &Log,
    entry: &'static str,
) -> impl Fn(Arc<T>) -> HookFuture + Send + Sync + use<T> {
    let log = log.clone();
    move |_| {
        let log = log.clone();
        Box::pin(async move {
            log.lock().unwrap().push(entry);
            Ok(())
        })
    }
}

/// A copy of what was logged so far.
pub(crate) fn entries(log: &Log) -> Vec<&'static str> {
    log.lock().unwrap().clone()
}
