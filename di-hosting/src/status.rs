//! What the host can tell about its services while it runs: each hosted service's state, the
//! last success of timed and cron work, and the work metrics of timed, cron and queued work.
//! Health endpoints and operators read it through `Host::status()`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::WorkMetrics;

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

/// A snapshot of every hosted service, in registration order.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HostStatus {
    /// The services.
    pub services: Vec<ServiceStatus>,
}

impl HostStatus {
    /// The status of the service named `name`, if the host has one.
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

/// Where the host and its services record their status; one per host (a singleton).
#[derive(Debug, Default)]
pub(crate) struct StatusBoard {
    services: Mutex<Vec<ServiceStatus>>,
}

impl StatusBoard {
    fn with<R>(&self, name: &'static str, f: impl FnOnce(&mut ServiceStatus) -> R) -> R {
        let mut services = self.services.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match services.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                services.push(ServiceStatus { name, state: ServiceState::Created, last_success: None, metrics: None });
                services.len() - 1
            }
        };
        f(&mut services[index])
    }

    /// Sets a service's state (adding the service on first mention).
    pub(crate) fn set_state(&self, name: &'static str, state: ServiceState) {
        self.with(name, |s| s.state = state);
    }

    /// Sets a service's state if its current state matches `current`.
    pub(crate) fn set_state_if(
        &self,
        name: &'static str,
        current: impl FnOnce(&ServiceState) -> bool,
        state: ServiceState,
    ) {
        self.with(name, |s| {
            if current(&s.state) {
                s.state = state;
            }
        });
    }

    /// Adds a service in state `Created` (registration order is the order of first mention).
    pub(crate) fn register(&self, name: &'static str) {
        self.with(name, |_| {});
    }

    /// Records a successful tick or firing, now.
    #[allow(dead_code, reason = "the timed and cron services record into it (background-work rework)")]
    pub(crate) fn record_success(&self, name: &'static str) {
        self.with(name, |s| s.last_success = Some(SystemTime::now()));
    }

    /// Attaches a service's work metrics.
    #[allow(dead_code, reason = "the timed, cron and queued services attach theirs (background-work rework)")]
    pub(crate) fn attach_metrics(&self, name: &'static str, metrics: Arc<WorkMetrics>) {
        self.with(name, |s| s.metrics = Some(metrics));
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> HostStatus {
        HostStatus { services: self.services.lock().unwrap_or_else(PoisonError::into_inner).clone() }
    }
}
