//! The adapter that runs a [`BackgroundService`] as a [`HostedService`]: `execute` on a task of
//! the host's tracker with a child of the host's token, panics contained, failures handled by
//! the host's policy and recorded on its status board.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use di_core::error::panic_message;
use di_core::{ResolveError, Resolver};
use futures_util::FutureExt as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::error::{Phase, ServiceFailure, chain};
use crate::hosted_service::{BackgroundService, HostedService};
use crate::lifetime::ApplicationLifetime;
use crate::options::{FailurePolicy, HostOptions};
use crate::status::{ServiceState, StatusBoard, StatusSlot};
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
#[derive(Debug, Clone)]
struct HostContext {
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
    fn resolve(provider: &Resolver<'_>) -> Result<Self, ResolveError> {
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
    context: HostContext,
    running: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    stopping: CancellationToken,
    task: JoinHandle<()>,
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
        // A child of the host's root token: the host cancels it when it stops (or is disposed or
        // dropped); this service's own `stop` cancels it alone. Not a child of the start token:
        // a stop requested during start-up cancels the work only when the services are stopped.
        let stopping = self.context.tasks.child_token();
        let name = self.service.name();
        // This registration's entry on the host's board (none outside a host).
        let status = StatusSlot::find(&self.context.status, self);
        if let Some(status) = &status {
            status.set_state(ServiceState::Running);
        }
        // A root span: the work outlives the `start` call whose span is current here.
        let span = tracing::info_span!(parent: None, "background_service", service = name);
        let work = supervise(self.service.clone(), stopping.clone(), self.context.clone(), status).instrument(span);
        let task = self.context.tasks.spawn(name, work);
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = Some(Running { stopping, task });
        Ok(())
    }

    /// Cancels the token and waits for `execute` to return, until `cancel` fires (the host's
    /// shutdown timeout): then it stops waiting, and the host names the task still running as
    /// abandoned. Stopping a service that never started does nothing.
    async fn stop(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(Running { stopping, task }) = running {
            stopping.cancel();
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
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.service.name()
    }
}

/// Runs `execute` (panics caught) and applies the policy when it fails.
async fn supervise(
    service: Arc<dyn BackgroundService>,
    stopping: CancellationToken,
    context: HostContext,
    status: Option<StatusSlot>,
) {
    let name = service.name();
    let set_state = |state| {
        if let Some(status) = &status {
            status.set_state(state);
        }
    };
    let mut restarts = 0_u32;
    loop {
        let failure = match AssertUnwindSafe(service.execute(stopping.clone())).catch_unwind().await {
            Ok(Ok(())) => {
                tracing::info!(service = name, "background service completed");
                set_state(ServiceState::Stopped);
                return;
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
        match context.policy {
            FailurePolicy::Ignore => {
                set_state(ServiceState::Failed { error: chain(&failure) });
                return;
            }
            FailurePolicy::Restart { backoff, max_restarts } if restarts < max_restarts && !stopping.is_cancelled() => {
                restarts += 1;
                set_state(ServiceState::Restarting { attempt: restarts });
                tracing::warn!(
                    service = name,
                    restart = restarts,
                    max_restarts,
                    ?backoff,
                    "restarting background service"
                );
                if stopping.run_until_cancelled(tokio::time::sleep(backoff)).await.is_none() {
                    set_state(ServiceState::Stopped);
                    return;
                }
                set_state(ServiceState::Running);
            }
            _ => {
                tracing::error!(
                    service = name,
                    restarts,
                    "a background service failed and the host is stopping; set \
                     `HostOptions::background_service_failure` to `Ignore` or `Restart` to keep it running"
                );
                set_state(ServiceState::Failed { error: chain(&failure) });
                context.failures.push(failure);
                context.lifetime.stop_application();
                return;
            }
        }
    }
}
