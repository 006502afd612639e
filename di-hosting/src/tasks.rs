//! The host's tasks, on tokio-util's graceful-shutdown recipe: one root [`CancellationToken`]
//! (a child per service) and one [`TaskTracker`] that every task the host and its services
//! spawn runs on. Stopping is: cancel, close, wait with a deadline; what is still running at
//! the deadline is reported by name.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Every task of one host. Cheap to clone (shared state).
#[derive(Debug, Clone, Default)]
pub(crate) struct HostTasks {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    token: CancellationToken,
    tracker: TaskTracker,
    /// The tasks still running: what a stop that hits its deadline names.
    running: Mutex<Running>,
}

/// The names of the running tasks in a slab: a task's entry is its index, freed (and reused)
/// when it ends, so adding and removing one is an index, not a hash.
#[derive(Debug, Default)]
struct Running {
    names: Vec<Option<&'static str>>,
    free: Vec<usize>,
}

impl Running {
    fn insert(&mut self, name: &'static str) -> usize {
        match self.free.pop() {
            Some(id) => {
                self.names[id] = Some(name);
                id
            }
            None => {
                self.names.push(Some(name));
                self.names.len() - 1
            }
        }
    }

    fn remove(&mut self, id: usize) {
        if let Some(name) = self.names.get_mut(id)
            && name.take().is_some()
        {
            self.free.push(id);
        }
    }
}

/// Removes a task from the running list when it ends (completes, panics or is dropped).
struct Listed {
    inner: Arc<Inner>,
    id: usize,
}

impl Drop for Listed {
    fn drop(&mut self) {
        self.inner.running.lock().unwrap_or_else(PoisonError::into_inner).remove(self.id);
    }
}

impl HostTasks {
    /// A token cancelled when the host stops (or `cancel` is called): give one to each service.
    pub(crate) fn child_token(&self) -> CancellationToken {
        self.inner.token.child_token()
    }

    /// The root token itself (what the status board's parent of background tokens descends
    /// from).
    pub(crate) fn root(&self) -> &CancellationToken {
        &self.inner.token
    }

    /// Whether stopping has begun.
    #[allow(dead_code, reason = "for the timed, queued and cron services (background-work rework)")]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.inner.token.is_cancelled()
    }

    /// Spawns `task` on the host's tracker, listed under `name` while it runs.
    pub(crate) fn spawn<F>(&self, name: &'static str, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = self.inner.running.lock().unwrap_or_else(PoisonError::into_inner).insert(name);
        let running = Listed { inner: self.inner.clone(), id };
        // `map` keeps the guard next to the task (dropped when it ends or is dropped); an
        // `async move` block awaiting `task` would hold the task's future twice.
        self.inner.tracker.spawn(task.map(move |output| {
            drop(running);
            output
        }))
    }

    /// Cancels every token handed out: the first step of stopping.
    pub(crate) fn cancel(&self) {
        self.inner.token.cancel();
    }

    /// Lets `wait` return once the tasks are done: the second step of stopping (see
    /// `TaskTracker::close`; a task spawned later is still tracked).
    pub(crate) fn close(&self) {
        self.inner.tracker.close();
    }

    /// Waits until every tracked task has ended (after `close`).
    pub(crate) async fn wait(&self) {
        self.inner.tracker.wait().await;
    }

    /// The names of the tasks still running, sorted: what a stop reports as abandoned.
    pub(crate) fn running(&self) -> Vec<&'static str> {
        let mut names: Vec<_> =
            self.inner.running.lock().unwrap_or_else(PoisonError::into_inner).names.iter().flatten().copied().collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn cancel_close_wait_and_name_what_is_left() {
        let tasks = HostTasks::default();
        let token = tasks.child_token();
        tasks.spawn("polite", async move { token.cancelled().await });
        tasks.spawn("stubborn", std::future::pending::<()>());
        assert_eq!(tasks.running(), ["polite", "stubborn"]);
        tasks.cancel();
        tasks.close();
        let waited = tokio::time::timeout(Duration::from_millis(200), tasks.wait()).await;
        assert!(waited.is_err(), "the stubborn task never ends");
        assert_eq!(tasks.running(), ["stubborn"], "the polite one ended on cancellation");
    }
}
