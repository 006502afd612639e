//! The adapter that runs a [`BackgroundService`] as a [`HostedService`]: `execute` on a task of
//! the host's tracker with a child of the host's token, panics contained, failures handled by
//! the host's policy and recorded on its status board.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use di_core::error::panic_message;
use di_core::{ResolveError, Resolver};
use futures_util::FutureExt as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tracing::Instrument as _;

use crate::error::{Phase, ServiceFailure, chain};
use crate::hosted_service::{BackgroundService, HostedService};
use crate::lifetime::ApplicationLifetime;
use crate::options::{FailurePolicy, HostOptions};
use crate::status::{Background, ServiceState, StatusBoard};
use crate::tasks::HostTasks;

/// Background failures that stop the host, collected for the [`StopReport`](crate::StopReport).
/// The host registers one as a singleton; adapters resolve it.
#[derive(Debug, Default)]
pub(crate) struct BackgroundFailures(Mutex<Vec<ServiceFailure>>);

impl BackgroundFailures {
    fn push(&self, failure: ServiceFailure) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(failure);
    }

    pub(crate) fn take(&self) -> Vec<ServiceFailure> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// What the adapter needs from the host. Outside a host (a bare provider) it falls back to
/// defaults, so the adapter still runs; failures then only get logged.
#[derive(Debug)]
pub(crate) struct HostContext {
    lifetime: Arc<ApplicationLifetime>,
    policy: FailurePolicy,
    failures: Arc<BackgroundFailures>,
    tasks: Arc<HostTasks>,
    status: Arc<StatusBoard>,
    /// Whether a host runs the service (it then names an `execute` still running at the
    /// shutdown timeout as abandoned).
    in_host: bool,
}

impl HostContext {
    /// The host's context, shared by all its background services (registered by the builder).
    pub(crate) fn in_host(
        lifetime: Arc<ApplicationLifetime>,
        policy: FailurePolicy,
        failures: Arc<BackgroundFailures>,
        tasks: Arc<HostTasks>,
        status: Arc<StatusBoard>,
    ) -> Self {
        Self { lifetime, policy, failures, tasks, status, in_host: true }
    }

    /// The host's registered context, or one made of what the provider has (a bare provider).
    fn resolve(provider: &Resolver<'_>) -> Result<Arc<Self>, ResolveError> {
        if let Some(context) = provider.resolve::<Option<Arc<Self>>>()? {
            return Ok(context);
        }
        Self::standalone(provider).map(Arc::new)
    }

    fn standalone(provider: &Resolver<'_>) -> Result<Self, ResolveError> {
        let tasks = provider.resolve::<Option<Arc<HostTasks>>>()?;
        Ok(Self {
            in_host: tasks.is_some(),
            tasks: tasks.unwrap_or_default(),
            lifetime: provider.resolve::<Option<Arc<ApplicationLifetime>>>()?.unwrap_or_default(),
            policy: provider.resolve::<Option<Arc<HostOptions>>>()?.unwrap_or_default().background_service_failure,
            failures: provider.resolve::<Option<Arc<BackgroundFailures>>>()?.unwrap_or_default(),
            status: provider.resolve::<Option<Arc<StatusBoard>>>()?.unwrap_or_default(),
        })
    }
}

/// Runs a [`BackgroundService`] for the host.
pub(crate) struct BackgroundHost {
    service: Arc<dyn BackgroundService>,
    context: Arc<HostContext>,
    running: Mutex<Option<Running>>,
}

/// A started service, where its own `stop` finds it.
#[derive(Debug)]
enum Running {
    /// Outside a host: its token and task.
    Own { stopping: CancellationToken, task: JoinHandle<()> },
    /// In a host: on the board, at this registration index, where the host's stop takes it
    /// with its neighbours (and this service's own `stop` then finds nothing left to do).
    Board(usize),
}

/// Who keeps a starting service's token and task: [`Running`] before the task exists.
enum Keeper {
    Own(CancellationToken),
    Board(usize),
}

impl BackgroundHost {
    pub(crate) fn new(service: Arc<dyn BackgroundService>, provider: &Resolver<'_>) -> Result<Self, ResolveError> {
        Ok(Self { service, context: HostContext::resolve(provider)?, running: Mutex::new(None) })
    }
}

#[async_trait]
impl HostedService for BackgroundHost {
    /// Spawns `execute` on the host's tracker and returns at once: a background service never
    /// delays start-up.
    async fn start(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        // A descendant of the host's root token (in a host, through the board's parent of
        // background tokens): the host cancels it when it stops (or is disposed or dropped);
        // this service's own `stop` cancels it alone. Not a child of the start token: a stop
        // requested during start-up cancels the work only when the services are stopped.
        let board = &self.context.status;
        // This registration's entry on the host's board (none outside a host).
        let slot = board.slot_of(self);
        // The token's other handle: the board's, or this adapter's own outside a host.
        let (stopping, tracked, keeper) = match slot {
            Some(slot) => {
                let (stopping, tracked) = board.background_started(slot);
                (stopping, Some(tracked), Keeper::Board(slot))
            }
            None => {
                let stopping = self.context.tasks.child_token();
                (stopping.clone(), None, Keeper::Own(stopping))
            }
        };
        let name = self.service.name();
        // A root span: the work outlives the `start` call whose span is current here.
        let span = tracing::info_span!(parent: None, "background_service", service = name);
        let run = Supervised {
            service: self.service.clone(),
            stopping,
            context: self.context.clone(),
            slot,
            _tracked: tracked,
        };
        let work = supervise(run).instrument(span);
        let task = self.context.tasks.spawn(name, work);
        let running = match keeper {
            Keeper::Own(stopping) => Running::Own { stopping, task },
            Keeper::Board(slot) => {
                board.attach_task(slot, task);
                Running::Board(slot)
            }
        };
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = Some(running);
        Ok(())
    }

    /// Cancels the token and waits for `execute` to return, until `cancel` fires (the host's
    /// shutdown timeout): then it stops waiting, and the host names the task still running as
    /// abandoned. Stopping a service that never started, or that the host's stop has already
    /// stopped with its neighbours, does nothing.
    async fn stop(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner).take();
        let (stopping, task) = match running {
            None => return Ok(()),
            Some(Running::Own { stopping, task }) => (stopping, Some(task)),
            Some(Running::Board(slot)) => match self.context.status.take_background(slot) {
                None => return Ok(()),
                Some(Background { stopping, task }) => (stopping, task),
            },
        };
        stopping.cancel();
        let Some(task) = task else { return Ok(()) };
        let name = self.service.name();
        tokio::select! {
            biased;
            _ = task => {}
            () = cancel.cancelled() => {
                tracing::warn!(service = name, "background service did not return from `execute` in time");
                // In a host, the task still running is reported as abandoned, by name.
                if !self.context.in_host {
                    anyhow::bail!(
                        "`{name}` did not return from `execute` when its token was cancelled; return from \
                         `execute` when `stopping` is cancelled"
                    );
                }
            }
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.service.name()
    }
}

/// One background service's `execute` on its task: what `supervise` needs, kept small (the task
/// holds it for the service's whole life).
struct Supervised {
    service: Arc<dyn BackgroundService>,
    stopping: CancellationToken,
    context: Arc<HostContext>,
    /// This registration's index on the host's board (none outside a host).
    slot: Option<usize>,
    /// Counts this task among the background tasks whose end a stop awaits (in a host).
    _tracked: Option<TaskTrackerToken>,
}

impl Supervised {
    fn set_state(&self, state: ServiceState) {
        if let Some(slot) = self.slot {
            self.context.status.set_state(slot, state);
        }
    }

    /// Logs how `execute` ended and applies the policy: `Some(backoff)` to run it again after
    /// `backoff` (the `restarts + 1`th restart), `None` when the service is done.
    fn settle(&self, result: std::thread::Result<anyhow::Result<()>>, restarts: u32) -> Option<Duration> {
        let name = self.service.name();
        let failure = match result {
            Ok(Ok(())) => {
                tracing::info!(service = name, "background service completed");
                self.set_state(ServiceState::Stopped);
                return None;
            }
            Ok(Err(error)) => {
                tracing::error!(service = name, error = %format!("{error:#}"), "background service failed");
                ServiceFailure::new(name, Phase::Execute, error)
            }
            Err(payload) => {
                let message = panic_message(&*payload);
                tracing::error!(service = name, message, "background service panicked");
                ServiceFailure::panicked(name, Phase::Execute, message)
            }
        };
        match self.context.policy {
            FailurePolicy::Ignore => {
                self.set_state(ServiceState::Failed { error: chain(&failure) });
                None
            }
            FailurePolicy::Restart { backoff, max_restarts }
                if restarts < max_restarts && !self.stopping.is_cancelled() =>
            {
                let restart = restarts + 1;
                self.set_state(ServiceState::Restarting { attempt: restart });
                tracing::warn!(service = name, restart, max_restarts, ?backoff, "restarting background service");
                Some(backoff)
            }
            _ => {
                tracing::error!(
                    service = name,
                    restarts,
                    "a background service failed and the host is stopping; set \
                     `HostOptions::background_service_failure` to `Ignore` or `Restart` to keep it running"
                );
                self.set_state(ServiceState::Failed { error: chain(&failure) });
                self.context.failures.push(failure);
                self.context.lifetime.stop_application();
                None
            }
        }
    }
}

/// Runs `execute` (panics caught) and applies the policy when it fails. Only the `execute`
/// future is held across its await (a pointer: `async_trait` boxes it); the backoff's timer is
/// boxed, being rare, so the task stays small. (Not an `async fn`: its argument would be
/// stored twice in the future.)
#[allow(clippy::manual_async_fn, reason = "an `async fn` stores its argument twice: 48 bytes more per task")]
fn supervise(run: Supervised) -> impl Future<Output = ()> + Send {
    async move {
        let mut restarts = 0_u32;
        loop {
            let result = AssertUnwindSafe(run.service.execute(run.stopping.clone())).catch_unwind().await;
            let Some(backoff) = run.settle(result, restarts) else { return };
            restarts += 1;
            let waited = Box::pin(run.stopping.run_until_cancelled(tokio::time::sleep(backoff))).await;
            if waited.is_none() {
                run.set_state(ServiceState::Stopped);
                return;
            }
            run.set_state(ServiceState::Running);
        }
    }
}
