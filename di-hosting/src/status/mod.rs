//! What the host can tell about its services while it runs: each hosted service's state, the
//! last success of timed and cron work, and the work metrics of timed, cron and queued work.
//! Health endpoints and operators read it through `Host::status()`.

mod kinds;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use self::kinds::Kinds;
use crate::{HostedService, WorkMetrics};

/// The state of one hosted service.
///
/// # Examples
///
/// ```
/// use di_hosting::ServiceState;
/// assert_eq!(ServiceState::Restarting { attempt: 2 }.to_string(), "restarting (attempt 2)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceState {
    /// Registered; the host has not started it.
    Created,
    /// Its `start` is running.
    Starting,
    /// Started (and, for a background service, its `execute` is running).
    Running,
    /// Its `stop` is running.
    Stopping,
    /// Stopped, or finished on its own.
    Stopped,
    /// Failed, with the failure's text (the error and its causes). Under the `Ignore` policy
    /// the host keeps running, and this is where the failure shows.
    Failed {
        /// The failure, as `ServiceFailure` prints it with its causes.
        error: String,
    },
    /// Failed and waiting to run again under the `Restart` policy.
    Restarting {
        /// Which restart this is (1 for the first).
        attempt: u32,
    },
}

impl std::fmt::Display for ServiceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Created => f.write_str("created"),
            Self::Starting => f.write_str("starting"),
            Self::Running => f.write_str("running"),
            Self::Stopping => f.write_str("stopping"),
            Self::Stopped => f.write_str("stopped"),
            Self::Failed { error } => write!(f, "failed: {error}"),
            Self::Restarting { attempt } => write!(f, "restarting (attempt {attempt})"),
        }
    }
}

/// One service in a [`HostStatus`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServiceStatus {
    /// The service's name (its type, as `std::any::type_name` spells it).
    pub name: &'static str,
    /// Its state when the snapshot was taken.
    pub state: ServiceState,
    /// When a tick (timed) or firing (cron) last succeeded, if ever.
    pub last_success: Option<SystemTime>,
    /// The work metrics of a timed service, a cron job or a queue.
    pub metrics: Option<Arc<WorkMetrics>>,
}

/// A snapshot of every hosted service, in registration order: one entry per registration, so
/// two registrations of one type have two entries (with the same name).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HostStatus {
    /// The services.
    pub services: Vec<ServiceStatus>,
}

impl HostStatus {
    /// The status of the service named `name`, if the host has one (the first registered, when
    /// several share the name; iterate [`services`](Self::services) for the others).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_hosting::HostStatus::default().service("app::Worker").is_none());
    /// ```
    pub fn service(&self, name: &str) -> Option<&ServiceStatus> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// Where the host and its services record their status; one per host (a singleton). One entry
/// per hosted service registration, at its registration index: two registrations of one type
/// have two entries.
#[derive(Debug, Default)]
pub(crate) struct StatusBoard {
    /// The entries, and each registration's state as a [`kind`], by registration index: a state
    /// without data is set with one atomic store (or read-modify-write), without the lock; a
    /// state with data (`Failed`, `Restarting`) is written to its entry, then its kind stored,
    /// under the lock; a snapshot reads the kinds under the lock, each with its data (the
    /// protocol of [`Kinds`], model-checked by `di-hosting/loom`). Sized by
    /// [`register`](Self::register).
    entries: Kinds<Entries>,
    /// Whether a background service has started here: until one has,
    /// [`take_background_run`](Self::take_background_run) has nothing to look for.
    has_background: AtomicBool,
    /// The parent of every `stopping` token the board hands out (a child of the host's root
    /// token). A stop that reaches the last running background service cancels this parent,
    /// as tokio-util's recipe cancels its root: that also detaches the children, which are then
    /// dropped under their own lock alone (a child still attached locks its parent and a
    /// sibling to leave the parent's list: one lock every ending task would contend for).
    parent: CancellationToken,
    /// Counts the tasks of the background services started here: a stop that has cancelled
    /// them all waits for their end once, rather than for each task in turn.
    tasks: TaskTracker,
}

/// The kinds of [`ServiceState`], as stored in [`StatusBoard::entries`].
pub(crate) mod kind {
    pub(crate) const CREATED: u8 = 0;
    pub(crate) const STARTING: u8 = 1;
    pub(crate) const RUNNING: u8 = 2;
    pub(crate) const STOPPING: u8 = 3;
    pub(crate) const STOPPED: u8 = 4;
    /// The data is in the entry.
    pub(crate) const FAILED: u8 = 5;
    /// The data is in the entry.
    pub(crate) const RESTARTING: u8 = 6;

    /// Whether `kind` is not `FAILED`: what the stop's states may replace (a failure stays).
    pub(crate) fn not_failed(kind: u8) -> bool {
        kind != FAILED
    }
}

impl ServiceState {
    fn kind(&self) -> u8 {
        match self {
            Self::Created => kind::CREATED,
            Self::Starting => kind::STARTING,
            Self::Running => kind::RUNNING,
            Self::Stopping => kind::STOPPING,
            Self::Stopped => kind::STOPPED,
            Self::Failed { .. } => kind::FAILED,
            Self::Restarting { .. } => kind::RESTARTING,
        }
    }

    /// The state of kind `kind`; `data` is the entry's state, what a kind with data reads.
    fn of_kind(kind: u8, data: &Self) -> Self {
        match kind {
            kind::CREATED => Self::Created,
            kind::STARTING => Self::Starting,
            kind::RUNNING => Self::Running,
            kind::STOPPING => Self::Stopping,
            kind::STOPPED => Self::Stopped,
            _ => data.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Entries {
    /// Each registration's name, in registration order.
    names: Vec<&'static str>,
    /// The address of each registration's service, in the same order: how a service that
    /// records its own state (a background service, timed, queued and cron work) finds its entry.
    ids: Vec<usize>,
    /// What services record beyond a plain state, by registration index; empty until one does.
    data: Vec<ServiceData>,
    /// Address to registration index, built on the first [`StatusBoard::slot_of`].
    by_id: Option<HashMap<usize, usize>>,
    /// Each running background service's `stopping` token and task, by registration index:
    /// what [`StatusBoard::take_background_run`] stops.
    background: Vec<Option<Background>>,
}

/// A running background service, as its stop needs it.
#[derive(Debug)]
pub(crate) struct Background {
    /// Cancelled to stop it.
    pub(crate) stopping: CancellationToken,
    /// Its task (`None` for the instant between the spawn and [`StatusBoard::attach_task`]).
    pub(crate) task: Option<JoinHandle<()>>,
}

/// Consecutive background services in a stop's order, taken off the board with their tokens
/// cancelled: what the stop phase waits for instead of calling each service's `stop`.
#[derive(Debug, Default)]
pub(crate) struct BackgroundRun {
    /// Their tasks, each with its registration index.
    pub(crate) tasks: Vec<(usize, JoinHandle<()>)>,
    /// How many services of the order the run covers.
    pub(crate) len: usize,
    /// Whether it took the last running background service: every background task is then
    /// stopping, and [`StatusBoard::background_ended`] awaits them all at once.
    pub(crate) last: bool,
}

impl Entries {
    /// The data of the service at `slot`, if there is such a service (allocated on first use:
    /// most services never record any).
    fn data_mut(&mut self, slot: usize) -> Option<&mut ServiceData> {
        if slot >= self.names.len() {
            return None;
        }
        if self.data.is_empty() {
            self.data.resize_with(self.names.len(), ServiceData::default);
        }
        self.data.get_mut(slot)
    }
}

/// A service's status beyond its plain state.
#[derive(Debug, Clone)]
struct ServiceData {
    /// The state a kind with data (`Failed`, `Restarting`) reads.
    state: ServiceState,
    last_success: Option<SystemTime>,
    metrics: Option<Arc<WorkMetrics>>,
}

impl Default for ServiceData {
    fn default() -> Self {
        Self { state: ServiceState::Created, last_success: None, metrics: None }
    }
}

fn id_of(service: &dyn HostedService) -> usize {
    std::ptr::from_ref(service).cast::<()>() as usize
}

impl StatusBoard {
    /// A board whose `stopping` tokens descend from `root` (the host's root token).
    pub(crate) fn new(root: &CancellationToken) -> Self {
        Self { parent: root.child_token(), ..Self::default() }
    }

    fn with<R>(&self, slot: usize, f: impl FnOnce(&mut ServiceData) -> R) -> Option<R> {
        let mut entries = self.entries.lock();
        entries.data_mut(slot).map(f)
    }

    /// Registers the hosted services, in registration order, each in state `Created`. Returns
    /// the indices of those with lifecycle hooks ([`HostedService::lifecycle`] is asked here,
    /// once per service, in the same pass: the order the hook phases run in, empty when no
    /// service opted in).
    pub(crate) fn register(&self, services: &[Arc<dyn HostedService>]) -> Vec<usize> {
        let mut names = Vec::with_capacity(services.len());
        let mut ids = Vec::with_capacity(services.len());
        let mut hooked = Vec::new();
        for (i, service) in services.iter().enumerate() {
            names.push(service.name());
            ids.push(id_of(&**service));
            if service.lifecycle().is_some() {
                hooked.push(i);
            }
        }
        let mut entries = self.entries.lock();
        entries.names = names;
        entries.ids = ids;
        entries.data = Vec::new();
        entries.by_id = None;
        entries.background = std::iter::repeat_with(|| None).take(services.len()).collect();
        // A host registers its services once (a second start is refused before this).
        let slots = entries.init(services.len(), kind::CREATED);
        debug_assert_eq!(slots, services.len(), "one registration per board");
        hooked
    }

    /// The registration index of `service` (the first, should one instance be registered twice),
    /// or `None` when no host registered it on this board.
    pub(crate) fn slot_of(&self, service: &dyn HostedService) -> Option<usize> {
        let mut entries = self.entries.lock();
        let Entries { ids, by_id, .. } = &mut *entries;
        let by_id = by_id.get_or_insert_with(|| {
            let mut map = HashMap::with_capacity(ids.len());
            for (slot, &id) in ids.iter().enumerate() {
                map.entry(id).or_insert(slot);
            }
            map
        });
        by_id.get(&id_of(service)).copied()
    }

    /// Sets the state of the service at `slot`.
    #[inline]
    pub(crate) fn set_state(&self, slot: usize, state: ServiceState) {
        match state {
            ServiceState::Failed { .. } | ServiceState::Restarting { .. } => self.set_state_with_data(slot, state),
            _ => self.set_kind(slot, state.kind()),
        }
    }

    fn set_state_with_data(&self, slot: usize, state: ServiceState) {
        let to = state.kind();
        self.entries.set_with(slot, to, |entries| entries.data_mut(slot).map(|entry| entry.state = state).is_some());
    }

    /// Sets the state of the service at `slot` to `to`, a [`kind`] without data.
    pub(crate) fn set_kind(&self, slot: usize, to: u8) {
        debug_assert!(to < kind::FAILED, "a state with data is set with `set_state`");
        self.entries.set(slot, to);
    }

    /// Sets the state of the service at `slot` to `to`, a [`kind`] without data, if its current
    /// kind passes `current`.
    pub(crate) fn set_kind_if(&self, slot: usize, current: impl Fn(u8) -> bool, to: u8) {
        debug_assert!(to < kind::FAILED, "a state with data is set with `set_state`");
        self.entries.set_if(slot, current, to);
    }

    /// A background service at `slot` starts running: state `Running`. Returns its `stopping`
    /// token, and the tracker token its task holds until it ends; its task is attached next
    /// ([`attach_task`](Self::attach_task)).
    pub(crate) fn background_started(&self, slot: usize) -> (CancellationToken, TaskTrackerToken) {
        let stopping = self.parent.child_token();
        // Under the lock with the token, though `Running` has no data: one lock, not two.
        self.entries.set_with(slot, kind::RUNNING, |entries| {
            if let Some(entry) = entries.background.get_mut(slot) {
                *entry = Some(Background { stopping: stopping.clone(), task: None });
                self.has_background.store(true, Ordering::Release);
            }
            true
        });
        (stopping, self.tasks.token())
    }

    /// The task of the background service at `slot`, spawned after
    /// [`background_started`](Self::background_started).
    pub(crate) fn attach_task(&self, slot: usize, task: JoinHandle<()>) {
        let mut entries = self.entries.lock();
        match entries.background.get_mut(slot) {
            Some(Some(entry)) => entry.task = Some(task),
            // Stopped meanwhile (its stop found no task to wait for): nothing waits for it here,
            // and the host's tracker still names it if it outlives the shutdown.
            _ => drop(task),
        }
    }

    /// Takes the background services at the start of `order` (the rest of a stop phase's
    /// order) off the board, up to the first service that is not a running background service,
    /// cancels their tokens (all at once, through their parent, when they are the last) and
    /// marks them `Stopping`.
    #[inline]
    pub(crate) fn take_background_run(&self, order: &[usize]) -> BackgroundRun {
        // Set under the lock with the first one: a host without background services skips it.
        if self.has_background.load(Ordering::Acquire) { self.take_run(order) } else { BackgroundRun::default() }
    }

    fn take_run(&self, order: &[usize]) -> BackgroundRun {
        // Taken under the lock, cancelled after it: each cancel wakes a task that may record
        // its state under this lock.
        let (taken, last) = {
            let mut entries = self.entries.lock();
            let taken: Vec<Background> =
                order.iter().map_while(|&slot| entries.background.get_mut(slot).and_then(Option::take)).collect();
            // Once per run, not per service: a scan of the board's few words per service.
            let last = !taken.is_empty() && entries.background.iter().all(Option::is_none);
            (taken, last)
        };
        for &slot in &order[..taken.len()] {
            self.set_kind_if(slot, kind::not_failed, kind::STOPPING);
        }
        if last {
            // Every token handed out is among these, or was cancelled by an earlier stop.
            self.parent.cancel();
        } else {
            for entry in &taken {
                entry.stopping.cancel();
            }
        }
        let len = taken.len();
        let tasks = order.iter().zip(taken).filter_map(|(&slot, entry)| Some((slot, entry.task?))).collect();
        BackgroundRun { tasks, len, last }
    }

    /// Takes the background service at `slot` off the board (for its own `stop`), unless a
    /// stop took it already.
    pub(crate) fn take_background(&self, slot: usize) -> Option<Background> {
        self.entries.lock().background.get_mut(slot).and_then(Option::take)
    }

    /// Waits until the task of every background service started here has ended (after a
    /// stop has cancelled them all).
    pub(crate) async fn background_ended(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// The name of the service at `slot`.
    pub(crate) fn name(&self, slot: usize) -> Option<&'static str> {
        self.entries.lock().names.get(slot).copied()
    }

    /// Records a successful tick or firing, now.
    pub(crate) fn record_success(&self, slot: usize) {
        self.with(slot, |s| s.last_success = Some(SystemTime::now()));
    }

    /// Attaches a service's work metrics.
    pub(crate) fn attach_metrics(&self, slot: usize, metrics: Arc<WorkMetrics>) {
        self.with(slot, |s| s.metrics = Some(metrics));
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> HostStatus {
        let entries = self.entries.lock();
        let plain = ServiceData::default();
        let services = entries
            .names
            .iter()
            .enumerate()
            .map(|(slot, &name)| {
                let data = entries.data.get(slot).unwrap_or(&plain);
                let state = match entries.kind(slot) {
                    Some(kind) => ServiceState::of_kind(kind, &data.state),
                    None => data.state.clone(),
                };
                ServiceStatus { name, state, last_success: data.last_success, metrics: data.metrics.clone() }
            })
            .collect();
        HostStatus { services }
    }
}

/// A service's own entry on its host's board, for the services that record their own state.
#[derive(Debug, Clone)]
pub(crate) struct StatusSlot {
    board: Arc<StatusBoard>,
    slot: usize,
}

impl StatusSlot {
    /// The entry of `service` on `board`, if a host registered it there.
    pub(crate) fn find(board: &Arc<StatusBoard>, service: &dyn HostedService) -> Option<Self> {
        board.slot_of(service).map(|slot| Self { board: Arc::clone(board), slot })
    }

    pub(crate) fn record_success(&self) {
        self.board.record_success(self.slot);
    }

    pub(crate) fn attach_metrics(&self, metrics: Arc<WorkMetrics>) {
        self.board.attach_metrics(self.slot, metrics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Idle;

    #[async_trait::async_trait]
    impl HostedService for Idle {
        async fn start(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
            Ok(())
        }

        async fn stop(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
            Ok(())
        }
    }

    fn states(board: &StatusBoard) -> Vec<ServiceState> {
        board.snapshot().services.into_iter().map(|s| s.state).collect()
    }

    #[test]
    fn plain_states_are_atomics_and_states_with_data_keep_their_data() {
        let board = StatusBoard::default();
        board.register(&[Arc::new(Idle) as Arc<dyn HostedService>, Arc::new(Idle)]);
        assert_eq!(states(&board), [ServiceState::Created, ServiceState::Created], "registered");
        board.set_kind(0, kind::STARTING);
        board.set_state(1, ServiceState::Restarting { attempt: 2 });
        assert_eq!(states(&board), [ServiceState::Starting, ServiceState::Restarting { attempt: 2 }]);
        board.set_kind_if(0, |k| k == kind::STARTING, kind::RUNNING);
        board.set_state(1, ServiceState::Failed { error: "boom".into() });
        board.set_kind_if(0, kind::not_failed, kind::STOPPED);
        board.set_kind_if(1, kind::not_failed, kind::STOPPED);
        assert_eq!(
            states(&board),
            [ServiceState::Stopped, ServiceState::Failed { error: "boom".into() }],
            "a failed service stays failed, with its error"
        );
        board.set_kind_if(0, |k| k == kind::STARTING, kind::RUNNING);
        assert_eq!(states(&board)[0], ServiceState::Stopped, "only from `Starting`");
        board.set_state(1, ServiceState::Running);
        assert_eq!(states(&board)[1], ServiceState::Running, "a plain state replaces one with data");
    }
}
