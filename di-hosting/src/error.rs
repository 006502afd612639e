//! What went wrong while hosting: `HostError` (start-up), `ServiceFailure` (one service, one
//! phase) and `StopReport` (the outcome of a stop or a run, with its exit code).

use std::fmt;
use std::process::{ExitCode, Termination};
use std::sync::Arc;
use std::time::Duration;

use di_core::{BuildError, DisposeError, ResolveError};

use crate::ScheduleError;

/// The lifecycle step a [`ServiceFailure`] happened in.
///
/// # Examples
///
/// ```
/// assert_eq!(di_hosting::Phase::Stopping.to_string(), "stopping");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// [`HostedLifecycleService::starting`](crate::HostedLifecycleService::starting).
    Starting,
    /// [`HostedService::start`](crate::HostedService::start).
    Start,
    /// [`HostedLifecycleService::started`](crate::HostedLifecycleService::started).
    Started,
    /// [`HostedLifecycleService::stopping`](crate::HostedLifecycleService::stopping).
    Stopping,
    /// [`HostedService::stop`](crate::HostedService::stop).
    Stop,
    /// [`HostedLifecycleService::stopped`](crate::HostedLifecycleService::stopped).
    Stopped,
    /// [`BackgroundService::execute`](crate::BackgroundService::execute).
    Execute,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Starting => "starting",
            Self::Start => "start",
            Self::Started => "started",
            Self::Stopping => "stopping",
            Self::Stop => "stop",
            Self::Stopped => "stopped",
            Self::Execute => "execute",
        })
    }
}

/// One service failed in one phase: it returned an error or panicked (the panic was caught).
///
/// # Examples
///
/// ```
/// use di_hosting::{Phase, ServiceFailure};
/// let failure = ServiceFailure::new("app::Mailer", Phase::Start, anyhow::anyhow!("smtp down"));
/// assert_eq!(failure.service(), "app::Mailer");
/// assert_eq!(failure.to_string(), "hosted service `app::Mailer` failed in `start`");
/// ```
#[derive(Debug)]
pub struct ServiceFailure {
    service: &'static str,
    phase: Phase,
    cause: Cause,
}

#[derive(Debug)]
enum Cause {
    Error(anyhow::Error),
    Panic(String),
}

impl ServiceFailure {
    /// A failure from an error the service returned.
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_hosting::{Phase, ServiceFailure};
    /// let failure = ServiceFailure::new("app::Job", Phase::Execute, anyhow::anyhow!("boom"));
    /// assert!(!failure.is_panic());
    /// ```
    pub fn new(service: &'static str, phase: Phase, error: anyhow::Error) -> Self {
        Self { service, phase, cause: Cause::Error(error) }
    }

    /// A failure from a caught panic, with the panic's message.
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_hosting::{Phase, ServiceFailure};
    /// let failure = ServiceFailure::panicked("app::Job", Phase::Execute, "oops".to_owned());
    /// assert_eq!(failure.to_string(), "hosted service `app::Job` panicked in `execute` with message \"oops\"");
    /// ```
    pub fn panicked(service: &'static str, phase: Phase, message: String) -> Self {
        Self { service, phase, cause: Cause::Panic(message) }
    }

    /// The failing service's [`name`](crate::HostedService::name).
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_hosting::{Phase, ServiceFailure};
    /// assert_eq!(ServiceFailure::panicked("a", Phase::Stop, String::new()).service(), "a");
    /// ```
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The phase it failed in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_hosting::{Phase, ServiceFailure};
    /// assert_eq!(ServiceFailure::panicked("a", Phase::Stop, String::new()).phase(), Phase::Stop);
    /// ```
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the service panicked (rather than returning an error).
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_hosting::{Phase, ServiceFailure};
    /// assert!(ServiceFailure::panicked("a", Phase::Start, "x".into()).is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.cause, Cause::Panic(_))
    }

    /// The error the service returned, if it returned one (`None` for a panic).
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_hosting::{Phase, ServiceFailure};
    /// let failure = ServiceFailure::new("a", Phase::Start, anyhow::anyhow!("no disk"));
    /// assert_eq!(failure.error().map(ToString::to_string).as_deref(), Some("no disk"));
    /// ```
    pub fn error(&self) -> Option<&anyhow::Error> {
        match &self.cause {
            Cause::Error(e) => Some(e),
            Cause::Panic(_) => None,
        }
    }

    /// The panic message, if the service panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// # use di_hosting::{Phase, ServiceFailure};
    /// assert_eq!(ServiceFailure::panicked("a", Phase::Start, "x".into()).panic_message(), Some("x"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.cause {
            Cause::Panic(m) => Some(m),
            Cause::Error(_) => None,
        }
    }
}

impl fmt::Display for ServiceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (service, phase) = (self.service, self.phase);
        match &self.cause {
            Cause::Error(_) => write!(f, "hosted service `{service}` failed in `{phase}`"),
            // tokio's JoinError wording: "task {} panicked with message {:?}"
            Cause::Panic(m) => write!(f, "hosted service `{service}` panicked in `{phase}` with message {m:?}"),
        }
    }
}

impl std::error::Error for ServiceFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            // `AsRef` yields the original error, so callers can `downcast_ref` it.
            Cause::Error(e) => Some(AsRef::<dyn std::error::Error + Send + Sync>::as_ref(e)),
            Cause::Panic(_) => None,
        }
    }
}

/// Why the host could not be built or started.
///
/// The message includes the cause (and its causes), so printing the error once says everything;
/// for the same reason [`source`](std::error::Error::source) is `None`, and `Debug` prints the
/// same readable text. The three `main` signatures the docs recommend
/// (`Result<StopReport, HostError>`, `Result<_, Box<dyn Error>>` and `anyhow::Result<_>`) all print
/// each cause once.
///
/// # Examples
///
/// ```
/// use di_hosting::{HostError, Phase, ServiceFailure};
/// let err = HostError::Start(ServiceFailure::new("app::Db", Phase::Start, anyhow::anyhow!("refused")));
/// assert_eq!(err.to_string(), "hosted service `app::Db` failed in `start`: refused");
/// assert_eq!(format!("{err:?}"), err.to_string());
/// assert!(std::error::Error::source(&err).is_none(), "the cause is in the message, printed once");
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The service collection failed validation.
    #[error("could not build the host's service provider: {}", chain(.0))]
    Build(BuildError),
    /// The hosted services could not be resolved from the container.
    #[error("could not resolve the hosted services (check their registrations): {}", chain(.0))]
    Resolve(ResolveError),
    /// One service failed to start: the original failure, with its cause. The services already
    /// started were stopped.
    #[error("{}", chain(.0))]
    Start(ServiceFailure),
    /// Several services failed to start (concurrent start). The services already started were
    /// stopped.
    #[error("{} hosted services failed to start: {}", .failures.len(), failure_list(.failures))]
    StartMany {
        /// Every failure, in registration order.
        failures: Vec<ServiceFailure>,
    },
    /// Start-up took longer than [`HostOptions::startup_timeout`](crate::HostOptions::startup_timeout).
    #[error(
        "start-up did not finish within {timeout:?}; raise `HostOptions::startup_timeout` or return from `start` sooner"
    )]
    StartupTimeout {
        /// The timeout that expired.
        timeout: Duration,
        /// The services abandoned when it expired (empty if they all returned once their
        /// token was cancelled).
        services: Vec<&'static str>,
    },
    /// The application was asked to stop (a signal, `stop_application`, a failing background
    /// service) while starting, and a service did not return from its start-up call within the
    /// shutdown timeout (or a second signal came), so it was abandoned. When every service
    /// returns (seeing its start token cancelled), start-up finishes normally instead and the
    /// host then stops.
    #[error(
        "start-up was cancelled because the application is stopping: {} did not return within the shutdown \
         timeout; return from `start` when its token is cancelled{}",
        names(.abandoned.iter().copied()),
        stopped_by(.failures)
    )]
    StartCancelled {
        /// The services abandoned while starting.
        abandoned: Vec<&'static str>,
        /// The background failures that stopped the host while it was starting.
        failures: Vec<ServiceFailure>,
    },
    /// `start` was called on a host that had already been started (or stopped).
    #[error("the host was already started; call `start` once")]
    AlreadyStarted,
    /// Registering background work failed.
    #[error("{0}")]
    Schedule(ScheduleError),
}

impl fmt::Debug for HostError {
    /// The readable message, so `main` returning `Result<_, HostError>` (or a boxed one) prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<BuildError> for HostError {
    fn from(error: BuildError) -> Self {
        Self::Build(error)
    }
}

impl From<ScheduleError> for HostError {
    fn from(error: ScheduleError) -> Self {
        Self::Schedule(error)
    }
}

/// `error` and each of its causes, joined with `: `.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn failure_list(failures: &[ServiceFailure]) -> String {
    failures.iter().map(|f| chain(f)).collect::<Vec<_>>().join("; ")
}

fn stopped_by(failures: &[ServiceFailure]) -> String {
    if failures.is_empty() { String::new() } else { format!("; it was stopping because {}", failure_list(failures)) }
}

fn names(names: impl Iterator<Item = &'static str>) -> String {
    names.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The outcome of [`Host::stop`](crate::Host::stop) or a whole run: the services that failed
/// (in any phase, including background failures under
/// [`FailurePolicy::StopHost`](crate::FailurePolicy::StopHost)), the
/// services and tasks abandoned when the shutdown timeout expired, and disposal problems.
///
/// Cheap to clone (shared): every caller of `stop` gets the same report.
///
/// It implements [`Termination`], so `main` can return it (or `Result<StopReport, HostError>`)
/// and the process exits with [`exit_code`](Self::exit_code).
///
/// # Examples
///
/// ```
/// let report = di_hosting::StopReport::default();
/// assert!(report.is_success());
/// assert_eq!(report.exit_code(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct StopReport {
    failures: Arc<[ServiceFailure]>,
    timed_out: Arc<[&'static str]>,
    dispose: Option<Arc<DisposeError>>,
    disposal_unfinished: Option<Arc<[&'static str]>>,
}

/// A [`StopReport`] being assembled.
#[derive(Debug, Default)]
pub(crate) struct ReportBuilder {
    pub(crate) failures: Vec<ServiceFailure>,
    pub(crate) timed_out: Vec<&'static str>,
}

impl ReportBuilder {
    pub(crate) fn add_timed_out(&mut self, service: &'static str) {
        if !self.timed_out.contains(&service) {
            self.timed_out.push(service);
        }
    }

    pub(crate) fn finish(self) -> StopReport {
        StopReport { failures: self.failures.into(), timed_out: self.timed_out.into(), ..StopReport::default() }
    }
}

/// How disposing the container ended, for the report.
#[derive(Debug)]
pub(crate) enum Disposal {
    Done,
    Failed(DisposeError),
    /// The grace period ran out (or a second signal came) with hooks still running or not
    /// started: their services.
    Unfinished(Vec<&'static str>),
    /// Both: some hooks failed, and the deadline cut the rest short.
    FailedAndUnfinished(DisposeError, Vec<&'static str>),
}

impl StopReport {
    /// Every failure, background failures first, then stop phases in the order they ran.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_hosting::StopReport::default().failures().is_empty());
    /// ```
    pub fn failures(&self) -> &[ServiceFailure] {
        &self.failures
    }

    /// The services (and tasks, by name) that were still running when the shutdown timeout
    /// expired (or a second signal arrived, or the caller's bound of
    /// [`Host::stop_within`](crate::Host::stop_within) passed), and were abandoned.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_hosting::StopReport::default().timed_out().is_empty());
    /// ```
    pub fn timed_out(&self) -> &[&'static str] {
        &self.timed_out
    }

    /// What went wrong disposing the container at the end of a run, if anything.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_hosting::StopReport::default().dispose_error().is_none());
    /// ```
    pub fn dispose_error(&self) -> Option<&DisposeError> {
        self.dispose.as_deref()
    }

    /// `Some` when disposing the container did not finish within what was left of the shutdown
    /// timeout (or a second signal cut it short): the services whose disposal hooks were still
    /// running, as far as they are known (the list may be empty).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_hosting::StopReport::default().disposal_unfinished().is_none());
    /// ```
    pub fn disposal_unfinished(&self) -> Option<&[&'static str]> {
        self.disposal_unfinished.as_deref()
    }

    /// Whether everything stopped cleanly: no failure, no abandoned service, disposal finished
    /// without error.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_hosting::StopReport::default().is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        self.failures.is_empty()
            && self.timed_out.is_empty()
            && self.dispose.is_none()
            && self.disposal_unfinished.is_none()
    }

    /// `0` on success, `1` otherwise: the process exit code for this outcome.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(di_hosting::StopReport::default().exit_code(), 0);
    /// ```
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.is_success())
    }

    /// This report with how disposal ended.
    pub(crate) fn with_disposal(mut self, disposal: Disposal) -> Self {
        match disposal {
            Disposal::Done => {}
            Disposal::Failed(error) => self.dispose = Some(Arc::new(error)),
            Disposal::Unfinished(services) => self.disposal_unfinished = Some(services.into()),
            Disposal::FailedAndUnfinished(error, services) => {
                self.dispose = Some(Arc::new(error));
                self.disposal_unfinished = Some(services.into());
            }
        }
        self
    }
}

impl fmt::Display for StopReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_success() {
            return f.write_str("every hosted service stopped cleanly");
        }
        let mut parts = Vec::new();
        if !self.failures.is_empty() {
            parts.push(format!("{} failure(s): {}", self.failures.len(), failure_list(&self.failures)));
        }
        if !self.timed_out.is_empty() {
            parts.push(format!("abandoned at the shutdown timeout: {}", names(self.timed_out.iter().copied())));
        }
        if let Some(error) = &self.dispose {
            parts.push(format!("disposal failed: {error}"));
        }
        if let Some(services) = &self.disposal_unfinished {
            let mut part = "disposal did not finish within the shutdown timeout".to_owned();
            if !services.is_empty() {
                part.push_str(&format!(" (abandoned: {})", names(services.iter().copied())));
            }
            parts.push(part);
        }
        f.write_str(&parts.join("; "))
    }
}

impl Termination for StopReport {
    fn report(self) -> ExitCode {
        if !self.is_success() {
            tracing::error!(report = %self, "host stopped with errors");
        }
        ExitCode::from(self.exit_code())
    }
}
