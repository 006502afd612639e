//! The hosted service that drains the [`BackgroundTaskQueue`]: each item in a fresh scope, on
//! the service's task, and an explicit policy for what is queued or running when the host stops.

use std::borrow::Cow;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use di_core::{ResolveError, Resolver};
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::work::queue::{QUEUE_NAME, WorkContext};
use crate::work::unit::{Units, Worker, check_policy};
use crate::{BackgroundTaskQueue, FailurePolicy, HostedService, ScheduleError, WorkMetrics};

/// What the queued-work service does with its items when the host stops. Either way the queue
/// refuses new items ([`ScheduleError::QueueClosed`]) from then on.
///
/// With the default 5 s shutdown timeout and items made of three 5-second steps that each end
/// early when [`WorkContext::cancel`] fires (the ASP.NET Core `QueuedHostedService` sample):
///
/// | policy | items' token fires | running item | queued items | stop |
/// | --- | --- | --- | --- | --- |
/// | `Drain` | at the shutdown timeout | runs until the timeout, then ends | never start | reports which were cut off or dropped |
/// | `Cancel` | when stopping begins | ends at once | dropped, logged by name | clean (exit code 0) |
///
/// # Examples
///
/// ```
/// use di_hosting::{QueueOptions, QueueStopPolicy};
///
/// let options = QueueOptions::default().on_stop(QueueStopPolicy::Cancel);
/// assert_eq!(QueueStopPolicy::default(), QueueStopPolicy::Drain);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueueStopPolicy {
    /// Run what is queued until the shutdown timeout; the items' token fires at the timeout.
    /// Items still running then, and items never started, are reported by name in
    /// [`ScheduleError::QueueStopTimedOut`]. The default.
    #[default]
    Drain,
    /// Fire the items' token as soon as stopping begins and start no further item; the items
    /// left in the queue are dropped and logged by count and name (and counted in
    /// [`WorkMetrics::abandoned`]). Stop fails only if a running item outlives the timeout.
    Cancel,
}

/// Options for [`add_queued_work`](crate::BackgroundWorkExt::add_queued_work).
///
/// # Examples
///
/// ```
/// use di_hosting::{FailurePolicy, QueueOptions};
///
/// let options = QueueOptions::default().capacity(500).concurrency(4).on_failure(FailurePolicy::Ignore);
/// assert_eq!(QueueOptions::default().capacity_value(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct QueueOptions {
    capacity: usize,
    concurrency: usize,
    on_failure: FailurePolicy,
    on_stop: QueueStopPolicy,
    name: &'static str,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            capacity: 100,
            concurrency: 1,
            on_failure: FailurePolicy::Ignore,
            on_stop: QueueStopPolicy::Drain,
            name: "di_hosting::QueuedWorkService",
        }
    }
}

impl QueueOptions {
    /// Room in the default queue (default 100): how many items may wait, not counting those
    /// running. Zero is rejected at registration.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = di_hosting::QueueOptions::default().capacity(10);
    /// ```
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The configured capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_hosting::QueueOptions::default().capacity(7).capacity_value(), 7);
    /// ```
    pub fn capacity_value(&self) -> usize {
        self.capacity
    }

    /// Items run at once (default 1: one after another, in FIFO order). Zero is rejected at
    /// registration. The items run concurrently on the service's task (not a task each): spawn
    /// or use `spawn_blocking` inside an item for CPU-bound work.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = di_hosting::QueueOptions::default().concurrency(4);
    /// ```
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// What a failing or panicking item does (default: [`FailurePolicy::Ignore`]).
    /// [`FailurePolicy::Restart`] is rejected at registration
    /// ([`ScheduleError::RestartNotSupported`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{FailurePolicy, QueueOptions};
    /// let options = QueueOptions::default().on_failure(FailurePolicy::StopHost);
    /// ```
    #[must_use]
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.on_failure = policy;
        self
    }

    /// What happens to queued and running items when the host stops (default:
    /// [`QueueStopPolicy::Drain`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{QueueOptions, QueueStopPolicy};
    /// let options = QueueOptions::default().on_stop(QueueStopPolicy::Cancel);
    /// ```
    #[must_use]
    pub fn on_stop(mut self, policy: QueueStopPolicy) -> Self {
        self.on_stop = policy;
        self
    }

    /// The name of the draining service in logs and errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = di_hosting::QueueOptions::default().name("mailer");
    /// ```
    #[must_use]
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ScheduleError> {
        if self.capacity == 0 {
            return Err(ScheduleError::ZeroCapacity { queue: QUEUE_NAME });
        }
        if self.concurrency == 0 {
            return Err(ScheduleError::ZeroConcurrency { service: self.name });
        }
        check_policy(self.name, self.on_failure)
    }
}

/// The names of the items running now, by number.
type RunningItems = Mutex<Vec<(u64, Cow<'static, str>)>>;

/// The hosted service behind [`add_queued_work`](crate::BackgroundWorkExt::add_queued_work): one
/// loop on the host's tasks takes items while it has a free slot and runs them in fresh scopes.
#[derive(Debug)]
pub(crate) struct QueuedWorkService {
    worker: Arc<Worker>,
    queue: Arc<dyn BackgroundTaskQueue>,
    concurrency: usize,
    on_stop: QueueStopPolicy,
    running: Arc<RunningItems>,
}

impl QueuedWorkService {
    pub(crate) fn new(provider: &Resolver<'_>, options: &QueueOptions) -> Result<Self, ResolveError> {
        let metrics = provider.get::<WorkMetrics>()?;
        let linked = options.on_stop == QueueStopPolicy::Cancel;
        let worker = Worker::new(provider, options.name, options.on_failure, metrics, linked)?;
        let queue = provider.get::<dyn BackgroundTaskQueue>()?;
        Ok(Self {
            worker: Arc::new(worker),
            queue,
            concurrency: options.concurrency,
            on_stop: options.on_stop,
            running: Arc::default(),
        })
    }

    /// Takes what is still queued (the queue is closed by now, the loop no longer takes items):
    /// the names of the items that never started, logged and counted as abandoned.
    fn drop_leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        while let Some(Some(item)) = self.queue.dequeue().now_or_never() {
            left.push(item.name.into_owned());
        }
        if !left.is_empty() {
            tracing::warn!(
                service = self.worker.name,
                count = left.len(),
                items = ?left,
                "queued work items dropped without running: the service stopped"
            );
            self.worker.metrics.add_abandoned(left.len());
        }
        left
    }

    fn running_names(&self) -> Vec<String> {
        if self.worker.metrics.running() == 0 {
            return Vec::new();
        }
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.iter().map(|(_, name)| name.clone().into_owned()).collect()
    }

    fn finished(&self) -> usize {
        let metrics = &self.worker.metrics;
        metrics.completed() + metrics.failed() + metrics.cancelled()
    }
}

#[async_trait]
impl HostedService for QueuedWorkService {
    async fn start(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        let run = drain(Arc::clone(&self.worker), Arc::clone(&self.queue), Arc::clone(&self.running), self.concurrency);
        self.worker.start::<dyn BackgroundTaskQueue>(self, run)
    }

    async fn stop(&self, timeout: CancellationToken) -> anyhow::Result<()> {
        let finished_before = self.finished();
        self.queue.close();
        if self.on_stop == QueueStopPolicy::Cancel {
            self.worker.halt();
        }
        let ended = self.worker.wait(&timeout).await;
        // At the timeout, the running items' token fires (under `Drain`, for the first time).
        let running = if ended { Vec::new() } else { self.running_names() };
        self.worker.halt();
        // The loop no longer takes items: what is queued never started (under `Drain`, because
        // of the timeout or of a `StopHost` failure).
        let not_started = self.drop_leftovers();
        if ended {
            tracing::debug!(service = self.worker.name, "stopped");
            return Ok(());
        }
        self.worker.metrics.add_abandoned(running.len());
        let error = ScheduleError::QueueStopTimedOut {
            service: self.worker.name,
            policy: self.on_stop,
            drained: self.finished() - finished_before,
            running,
            not_started,
        };
        tracing::warn!(service = self.worker.name, "{error}");
        Err(error.into())
    }

    fn name(&self) -> &'static str {
        self.worker.name
    }
}

/// The consuming loop: takes an item whenever a slot is free and runs it as a unit of work
/// (awaited in the loop itself when one runs at a time); under `Drain`, the host stopping closes
/// the queue (the loop then ends once it is empty).
async fn drain(
    worker: Arc<Worker>,
    queue: Arc<dyn BackgroundTaskQueue>,
    running: Arc<RunningItems>,
    concurrency: usize,
) {
    let worker = &*worker;
    let running = &*running;
    let host_stopping = worker.host_stopping();
    // Created once: each `cancelled()` future registers with its token when first polled.
    let mut stopping = pin!(worker.stopping.cancelled());
    let mut host_stopping = pin!(host_stopping.cancelled());
    let mut units = Units::new(concurrency);
    let mut number = 0_u64;
    loop {
        if worker.is_halted() {
            break;
        }
        // Without waiting while items are queued; the `select!` waits for the first of them.
        let item = match queue.try_dequeue() {
            Some(item) => item,
            None => match tokio::select! {
                biased;
                () = &mut stopping => break,
                () = &mut host_stopping, if !queue.is_closed() => {
                    queue.close();
                    continue;
                }
                () = units.next_end() => continue,
                item = queue.dequeue(), if !units.is_full() => item,
            } {
                Some(item) => item,
                None => break,
            },
        };
        number += 1;
        let span = tracing::info_span!("work_item", number, item = %item.name);
        let job = item.job;
        let cancel = Arc::clone(&worker.stopping);
        let body = move |services| job(WorkContext { cancel, services });
        if concurrency == 1 {
            // One lock per item: the previous item has ended, its name is replaced (and a name
            // is read only while an item runs).
            {
                let mut names = running.lock().unwrap_or_else(PoisonError::into_inner);
                match names.first_mut() {
                    Some(name) => *name = (number, item.name),
                    None => names.push((number, item.name)),
                }
            }
            worker.begin_unit();
            if span.is_disabled() {
                worker.run_unit("work item", body).await;
            } else {
                worker.run_unit("work item", body).instrument(span).await;
            }
        } else {
            running.lock().unwrap_or_else(PoisonError::into_inner).push((number, item.name));
            let unit = worker.unit("work item", span, body);
            let id = number;
            let unit = async move {
                unit.await;
                running.lock().unwrap_or_else(PoisonError::into_inner).retain(|(number, _)| *number != id);
            };
            units.push(unit);
            if units.is_full() {
                // Wait for a free slot before taking the next item (it stays queued meanwhile).
                tokio::select! {
                    biased;
                    () = &mut stopping => break,
                    () = units.next_end() => {}
                }
            }
        }
    }
    units.finish().await;
}
