//! Queued background work: the items and the bounded [`BackgroundTaskQueue`] with
//! backpressure (a tokio `mpsc` channel); the service that drains it is in `queued.rs`.

use std::borrow::Cow;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use async_trait::async_trait;
use di_core::ServiceProvider;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ScheduleError;

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
    pub(crate) cancel: Arc<CancellationToken>,
    pub(crate) services: Arc<ServiceProvider>,
}

impl WorkContext {
    /// Fires when the work must stop now: when stopping begins under
    /// [`QueueStopPolicy::Cancel`](crate::QueueStopPolicy::Cancel), at the shutdown timeout under
    /// [`QueueStopPolicy::Drain`](crate::QueueStopPolicy::Drain) (the default), or when a failure
    /// stopped the service. An item that returns an error after it fired was cancelled, not
    /// failed.
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

pub(crate) type Job = Box<dyn FnOnce(WorkContext) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

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
    pub(crate) name: Cow<'static, str>,
    pub(crate) job: Job,
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

    /// Takes the oldest item if one is queued and can be taken without waiting (the default:
    /// never; [`dequeue`](Self::dequeue) is then used). The queued-work service tries this
    /// first, so a busy queue costs no future per item.
    fn try_dequeue(&self) -> Option<WorkItem> {
        None
    }

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

/// The default [`BackgroundTaskQueue`]: first in, first out, with room for a fixed number of
/// queued items (items already taken by the service do not count), on a tokio `mpsc` channel.
/// Any number of producers; one consumer (the queued-work service): concurrent `dequeue`
/// calls are not all woken.
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
    sender: mpsc::Sender<WorkItem>,
    /// Locked only within a poll, never across an `.await`. The consumer closes the channel
    /// once `closed` fired, so the items queued before are still taken and none sent after is
    /// lost.
    receiver: Mutex<mpsc::Receiver<WorkItem>>,
    /// Set by `close`, read on every enqueue (a token's `is_cancelled` takes a lock).
    is_closed: AtomicBool,
    /// Fires on `close`: wakes producers waiting for room and the consumer.
    closed: CancellationToken,
}

pub(crate) const QUEUE_NAME: &str = "di_hosting::BoundedTaskQueue";

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
        let capacity = capacity.min(tokio::sync::Semaphore::MAX_PERMITS);
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        Self {
            capacity,
            sender,
            receiver: Mutex::new(receiver),
            is_closed: AtomicBool::new(false),
            closed: CancellationToken::new(),
        }
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

    fn receiver(&self) -> MutexGuard<'_, mpsc::Receiver<WorkItem>> {
        // Never held across user code or an `.await`: a poisoned lock still guards a whole channel.
        self.receiver.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refused(&self) -> ScheduleError {
        ScheduleError::QueueClosed { queue: QUEUE_NAME }
    }
}

#[async_trait]
impl BackgroundTaskQueue for BoundedTaskQueue {
    async fn enqueue(&self, item: WorkItem) -> Result<(), ScheduleError> {
        if self.is_closed() {
            return Err(self.refused());
        }
        if self.capacity == 0 {
            self.closed.cancelled().await;
            return Err(self.refused());
        }
        tokio::select! {
            biased;
            () = self.closed.cancelled() => Err(self.refused()),
            sent = self.sender.send(item) => sent.map_err(|_| self.refused()),
        }
    }

    fn try_enqueue(&self, item: WorkItem) -> Result<(), ScheduleError> {
        if self.is_closed() {
            return Err(self.refused());
        }
        if self.capacity == 0 {
            return Err(ScheduleError::QueueFull { queue: QUEUE_NAME, capacity: 0 });
        }
        self.sender.try_send(item).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => {
                ScheduleError::QueueFull { queue: QUEUE_NAME, capacity: self.capacity }
            }
            mpsc::error::TrySendError::Closed(_) => self.refused(),
        })
    }

    async fn dequeue(&self) -> Option<WorkItem> {
        if !self.is_closed() {
            let mut closed = pin!(self.closed.cancelled());
            let taken = poll_fn(|cx| match self.receiver().poll_recv(cx) {
                Poll::Ready(item) => Poll::Ready(Some(item)),
                Poll::Pending => closed.as_mut().poll(cx).map(|()| None),
            })
            .await;
            if let Some(item) = taken {
                return item;
            }
        }
        // Closed: refuse further sends, then hand out what was queued before (`recv` waits for a
        // send already under way), then `None`.
        self.receiver().close();
        poll_fn(|cx| self.receiver().poll_recv(cx)).await
    }

    fn try_dequeue(&self) -> Option<WorkItem> {
        self.receiver().try_recv().ok()
    }

    fn close(&self) {
        self.is_closed.store(true, Ordering::Release);
        self.closed.cancel();
    }

    fn is_closed(&self) -> bool {
        self.is_closed.load(Ordering::Acquire)
    }

    fn len(&self) -> usize {
        if self.capacity == 0 { 0 } else { self.sender.max_capacity() - self.sender.capacity() }
    }
}

impl std::fmt::Debug for dyn BackgroundTaskQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundTaskQueue").field("len", &self.len()).finish_non_exhaustive()
    }
}
