//! Queued background work: a bounded [`BackgroundTaskQueue`] with backpressure, and the hosted
//! service that drains it, each item in a fresh scope.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use di_core::{ResolveError, Resolver, ServiceProvider};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::work::unit::Worker;
use crate::{FailurePolicy, HostedService, ScheduleError, WorkMetrics};

/// What a queued work item receives: a token that fires when it must stop now (the shutdown
/// timeout), and the services of the fresh scope it runs in.
///
/// # Examples
///
/// ```
/// use di_hosting::{WorkContext, WorkItem};
///
/// let item = WorkItem::new(|cx: WorkContext| async move {
///     let greeting = cx.services().get::<String>()?;
///     if !cx.cancel().is_cancelled() {
///         tracing::info!("{greeting}");
///     }
///     Ok(())
/// });
/// ```
#[derive(Debug, Clone)]
pub struct WorkContext {
    cancel: CancellationToken,
    services: Arc<ServiceProvider>,
}

impl WorkContext {
    /// Fires when the work must stop now: the host's shutdown timeout expired (queued work is
    /// otherwise drained, not cancelled), or a failure stopped the service.
    ///
    /// # Examples
    ///
    /// ```
    /// # let _ = |cx: di_hosting::WorkContext| async move {
    /// cx.cancel().cancelled().await;
    /// # };
    /// ```
    pub fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The item's own scope: scoped services resolved here are disposed when the item ends.
    ///
    /// # Examples
    ///
    /// ```
    /// # let _ = |cx: di_hosting::WorkContext| async move {
    /// let value = cx.services().get::<u32>()?;
    /// # anyhow::Ok(())
    /// # };
    /// ```
    pub fn services(&self) -> &Arc<ServiceProvider> {
        &self.services
    }
}

type Job = Box<dyn FnOnce(WorkContext) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

/// One unit of queued work: an async closure run once, in a fresh scope, by the queued-work
/// service. Failures and panics are logged with the item's name and counted; the loop goes on.
///
/// # Examples
///
/// ```
/// use di_hosting::WorkItem;
///
/// let item = WorkItem::named("send-welcome-email", |cx| async move {
///     tracing::info!(cancelled = cx.cancel().is_cancelled(), "sending");
///     Ok(())
/// });
/// assert_eq!(item.name(), "send-welcome-email");
/// ```
pub struct WorkItem {
    name: Cow<'static, str>,
    job: Job,
}

impl WorkItem {
    /// A work item named after the closure's type.
    ///
    /// # Examples
    ///
    /// ```
    /// let item = di_hosting::WorkItem::new(|_cx| async { Ok(()) });
    /// ```
    pub fn new<F, Fut>(work: F) -> Self
    where
        F: FnOnce(WorkContext) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self::named(std::any::type_name::<F>(), work)
    }

    /// A work item with a name for logs and shutdown reports.
    ///
    /// # Examples
    ///
    /// ```
    /// let item = di_hosting::WorkItem::named(format!("resize-{}", 42), |_cx| async { Ok(()) });
    /// assert_eq!(item.name(), "resize-42");
    /// ```
    pub fn named<F, Fut>(name: impl Into<Cow<'static, str>>, work: F) -> Self
    where
        F: FnOnce(WorkContext) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self { name: name.into(), job: Box::new(move |cx| work(cx).boxed()) }
    }

    /// The item's name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_hosting::WorkItem::named("x", |_cx| async { Ok(()) }).name(), "x");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for WorkItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkItem").field("name", &self.name).finish_non_exhaustive()
    }
}

/// A queue of [`WorkItem`]s: producers enqueue, the queued-work service dequeues.
///
/// [`add_queued_work`](crate::BackgroundWorkExt::add_queued_work) registers
/// [`BoundedTaskQueue`] as the singleton `dyn BackgroundTaskQueue` unless one is registered
/// already, so you may bring your own implementation.
///
/// # Examples
///
/// ```
/// use di_hosting::{BackgroundTaskQueue, BoundedTaskQueue, WorkItem};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), di_hosting::ScheduleError> {
/// let queue: &dyn BackgroundTaskQueue = &BoundedTaskQueue::new(10);
/// queue.enqueue(WorkItem::named("a", |_cx| async { Ok(()) })).await?;
/// assert_eq!(queue.len(), 1);
/// assert_eq!(queue.dequeue().await.map(|item| item.name().to_owned()), Some("a".to_owned()));
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait BackgroundTaskQueue: Send + Sync + 'static {
    /// Adds an item, waiting for room while the queue is full (backpressure).
    ///
    /// # Errors
    ///
    /// [`ScheduleError::QueueClosed`] once the host is stopping, including while waiting.
    async fn enqueue(&self, item: WorkItem) -> Result<(), ScheduleError>;

    /// Adds an item if there is room now.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::QueueFull`] when full; [`ScheduleError::QueueClosed`] once the host is
    /// stopping.
    fn try_enqueue(&self, item: WorkItem) -> Result<(), ScheduleError>;

    /// Takes the oldest item, waiting for one; `None` once the queue is closed and empty.
    async fn dequeue(&self) -> Option<WorkItem>;

    /// Refuses new items from now on; items already queued can still be dequeued.
    fn close(&self);

    /// Whether [`close`](Self::close) was called.
    fn is_closed(&self) -> bool;

    /// Items waiting in the queue.
    fn len(&self) -> usize;

    /// Whether no item is waiting.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The default [`BackgroundTaskQueue`]: first in, first out, with a fixed capacity.
///
/// # Examples
///
/// ```
/// use di_hosting::{BackgroundTaskQueue, BoundedTaskQueue, ScheduleError, WorkItem};
///
/// let queue = BoundedTaskQueue::new(1);
/// queue.try_enqueue(WorkItem::new(|_cx| async { Ok(()) }))?;
/// let full = queue.try_enqueue(WorkItem::new(|_cx| async { Ok(()) })).unwrap_err();
/// assert!(matches!(full, ScheduleError::QueueFull { capacity: 1, .. }));
/// # Ok::<(), ScheduleError>(())
/// ```
#[derive(Debug)]
pub struct BoundedTaskQueue {
    capacity: usize,
    state: Mutex<QueueState>,
    room: Semaphore,
    available: Notify,
}

#[derive(Debug, Default)]
struct QueueState {
    items: VecDeque<WorkItem>,
    closed: bool,
}

const QUEUE_NAME: &str = "di_hosting::BoundedTaskQueue";

impl BoundedTaskQueue {
    /// A queue with room for `capacity` items. A zero capacity never accepts an item;
    /// `add_queued_work` rejects it with [`ScheduleError::ZeroCapacity`].
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{BackgroundTaskQueue, BoundedTaskQueue};
    /// assert!(BoundedTaskQueue::new(100).is_empty());
    /// ```
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.min(Semaphore::MAX_PERMITS);
        Self { capacity, state: Mutex::default(), room: Semaphore::new(capacity), available: Notify::new() }
    }

    /// How many items the queue holds at most.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_hosting::BoundedTaskQueue::new(8).capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn state(&self) -> MutexGuard<'_, QueueState> {
        // The lock is never held across user code, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pushes an item for which room was already taken.
    fn push(&self, item: WorkItem) -> Result<(), ScheduleError> {
        let mut state = self.state();
        if state.closed {
            drop(state);
            self.room.add_permits(1);
            return Err(ScheduleError::QueueClosed { queue: QUEUE_NAME });
        }
        state.items.push_back(item);
        drop(state);
        self.available.notify_one();
        Ok(())
    }
}

#[async_trait]
impl BackgroundTaskQueue for BoundedTaskQueue {
    async fn enqueue(&self, item: WorkItem) -> Result<(), ScheduleError> {
        match self.room.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_closed) => return Err(ScheduleError::QueueClosed { queue: QUEUE_NAME }),
        }
        self.push(item)
    }

    fn try_enqueue(&self, item: WorkItem) -> Result<(), ScheduleError> {
        match self.room.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(ScheduleError::QueueClosed { queue: QUEUE_NAME }),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                return Err(ScheduleError::QueueFull { queue: QUEUE_NAME, capacity: self.capacity });
            }
        }
        self.push(item)
    }

    async fn dequeue(&self) -> Option<WorkItem> {
        loop {
            let mut notified = pin!(self.available.notified());
            notified.as_mut().enable();
            {
                let mut state = self.state();
                if let Some(item) = state.items.pop_front() {
                    drop(state);
                    self.room.add_permits(1);
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    fn close(&self) {
        self.state().closed = true;
        self.room.close();
        self.available.notify_waiters();
    }

    fn is_closed(&self) -> bool {
        self.state().closed
    }

    fn len(&self) -> usize {
        self.state().items.len()
    }
}

/// Options for [`add_queued_work`](crate::BackgroundWorkExt::add_queued_work).
///
/// # Examples
///
/// ```
/// use di_hosting::{FailurePolicy, QueueOptions};
///
/// let options = QueueOptions::default().capacity(500).concurrency(4).on_failure(FailurePolicy::Log);
/// assert_eq!(QueueOptions::default().capacity_value(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct QueueOptions {
    capacity: usize,
    concurrency: usize,
    on_failure: FailurePolicy,
    name: &'static str,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self { capacity: 100, concurrency: 1, on_failure: FailurePolicy::Log, name: "di_hosting::QueuedWorkService" }
    }
}

impl QueueOptions {
    /// Room in the default queue (default 100). Zero is rejected at registration.
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
    /// registration.
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

    /// What a failing or panicking item does (default: [`FailurePolicy::Log`]).
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
        Ok(())
    }
}

/// The hosted service behind [`add_queued_work`](crate::BackgroundWorkExt::add_queued_work).
/// On stop it closes the queue (new work is refused), drains what is queued until the shutdown
/// timeout, then reports and logs what is left.
#[derive(Debug)]
pub(crate) struct QueuedWorkService {
    worker: Arc<Worker>,
    queue: Arc<dyn BackgroundTaskQueue>,
    /// 1 while the loop holds an item it has dequeued but not yet started.
    held: Arc<AtomicUsize>,
}

impl std::fmt::Debug for dyn BackgroundTaskQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundTaskQueue").field("len", &self.len()).finish_non_exhaustive()
    }
}

impl QueuedWorkService {
    pub(crate) fn new(provider: &Resolver<'_>, options: &QueueOptions) -> Result<Self, ResolveError> {
        let metrics = provider.get::<WorkMetrics>()?;
        let worker = Worker::new(provider, options.name, options.on_failure, options.concurrency, metrics)?;
        let queue = provider.get::<dyn BackgroundTaskQueue>()?;
        Ok(Self { worker: Arc::new(worker), queue, held: Arc::default() })
    }
}

impl QueuedWorkService {
    /// Takes what is still queued (the queue is closed by now), logs the items' names, and
    /// returns how many there were.
    fn drop_leftovers(&self) -> usize {
        let mut left = Vec::new();
        while let Some(Some(item)) = self.queue.dequeue().now_or_never() {
            left.push(item.name);
        }
        if !left.is_empty() {
            tracing::warn!(service = self.worker.name, items = ?left, "queued work items dropped: the service stopped");
        }
        left.len()
    }
}

#[async_trait]
impl HostedService for QueuedWorkService {
    async fn start(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        let run = drain(Arc::clone(&self.worker), Arc::clone(&self.queue), Arc::clone(&self.held));
        self.worker.start::<dyn BackgroundTaskQueue>(run)
    }

    async fn stop(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.queue.close();
        self.worker.stop(cancel, false, || self.drop_leftovers() + self.held.load(Ordering::SeqCst)).await?;
        // The loop may have ended early (a StopHost failure): what it left is dropped loudly too.
        // The loop has ended, so `held` says whether it dropped an item it had dequeued.
        let left = self.drop_leftovers() + self.held.swap(0, Ordering::SeqCst);
        self.worker.metrics.add_abandoned(left);
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.worker.name
    }
}

/// The consuming loop: one item at a time out of the queue, up to `concurrency` running.
async fn drain(worker: Arc<Worker>, queue: Arc<dyn BackgroundTaskQueue>, held: Arc<AtomicUsize>) {
    let mut number = 0_u64;
    loop {
        let item = tokio::select! {
            biased;
            () = worker.stopping.cancelled() => return,
            item = queue.dequeue() => item,
        };
        let Some(item) = item else { return };
        held.store(1, Ordering::SeqCst);
        let Some((permit, _waited)) = worker.acquire().await else {
            tracing::warn!(service = worker.name, item = %item.name, "work item dropped: the service is stopping");
            return;
        };
        held.store(0, Ordering::SeqCst);
        number += 1;
        let cancel = worker.stopping.clone();
        let span = tracing::info_span!("work_item", number, item = %item.name);
        worker.spawn_unit(permit, "work item", span, move |services| (item.job)(WorkContext { cancel, services }));
    }
}
