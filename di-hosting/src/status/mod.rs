//! What the host can tell about its services while it runs: each hosted service's state, the
//! last success of timed and cron work, and the work metrics of timed, cron and queued work.
//! Health endpoints and operators read it through `Host::status()`.

mod kinds;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

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
    /// Whether a background service has recorded its `stopping` token: until one has,
    /// [`cancel_background_run`](Self::cancel_background_run) has nothing to look for.
    has_stop_tokens: AtomicBool,
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
    /// The `stopping` token of each running background service, by registration index: what
    /// [`StatusBoard::cancel_background_run`] cancels.
    stop_tokens: Vec<Option<CancellationToken>>,
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
    fn with<R>(&self, slot: usize, f: impl FnOnce(&mut ServiceData) -> R) -> Option<R> {
        let mut entries = self.entries.lock();
        entries.data_mut(slot).map(f)
    }

    /// Registers the hosted services, in registration order, each in state `Created`.
    pub(crate) fn register(&self, services: &[Arc<dyn HostedService>]) {
        let mut entries = self.entries.lock();
        entries.names = services.iter().map(|s| s.name()).collect();
        entries.ids = services.iter().map(|s| id_of(&**s)).collect();
        entries.data = Vec::new();
        entries.by_id = None;
        entries.stop_tokens = vec![None; services.len()];
        // A host registers its services once (a second start is refused before this).
        let slots = entries.init(services.len(), kind::CREATED);
        debug_assert_eq!(slots, services.len(), "one registration per board");
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

    /// A background service at `slot` is running: state `Running`, and `stopping` is the token
    /// its stop cancels (cancelled earlier, with its neighbours, by
    /// [`cancel_background_run`](Self::cancel_background_run)).
    pub(crate) fn background_started(&self, slot: usize, stopping: CancellationToken) {
        // Under the lock with the token, though `Running` has no data: one lock, not two.
        self.entries.set_with(slot, kind::RUNNING, |entries| {
            if let Some(token) = entries.stop_tokens.get_mut(slot) {
                *token = Some(stopping);
                self.has_stop_tokens.store(true, Ordering::Release);
            }
            true
        });
    }

    /// Cancels the `stopping` tokens of the background services at the start of `order` (the
    /// rest of a stop phase's order), up to the first service that is not a running background
    /// service: the stop phase then waits for each in turn. Returns how many it cancelled.
    #[inline]
    pub(crate) fn cancel_background_run(&self, order: &[usize]) -> usize {
        // Set under the lock with the first token: a host without background services skips it.
        if self.has_stop_tokens.load(Ordering::Acquire) { self.cancel_tokens(order) } else { 0 }
    }

    fn cancel_tokens(&self, order: &[usize]) -> usize {
        // Taken under the lock, cancelled after it: each cancel wakes a task that may record
        // its state under this lock.
        let tokens: Vec<CancellationToken> = {
            let mut entries = self.entries.lock();
            order.iter().map_while(|&slot| entries.stop_tokens.get_mut(slot).and_then(Option::take)).collect()
        };
        for token in &tokens {
            token.cancel();
        }
        tokens.len()
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

    #[inline]
    pub(crate) fn set_state(&self, state: ServiceState) {
        self.board.set_state(self.slot, state);
    }

    pub(crate) fn background_started(&self, stopping: CancellationToken) {
        self.board.background_started(self.slot, stopping);
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
        let not_failed = |k| k != kind::FAILED;
        board.set_kind_if(0, not_failed, kind::STOPPED);
        board.set_kind_if(1, not_failed, kind::STOPPED);
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
