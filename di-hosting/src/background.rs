//! The adapter that runs a [`BackgroundService`] as a [`HostedService`]: `execute` on its own
//! task with its own token, panics contained, failures handled by the host's policy.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use di_core::error::panic_message;
use di_core::{BoxError, Dependencies, FromProvider, ResolveError, Resolver};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::error::{Phase, ServiceFailure};
use crate::hosted_service::{BackgroundService, HostedService};
use crate::lifetime::ApplicationLifetime;
use crate::options::{BackgroundServiceFailure, HostOptions};

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
    policy: BackgroundServiceFailure,
    failures: Arc<BackgroundFailures>,
}

impl HostContext {
    fn resolve(provider: &Resolver<'_>) -> Result<Self, ResolveError> {
        Ok(Self {
            lifetime: provider.resolve::<Option<Arc<ApplicationLifetime>>>()?.unwrap_or_default(),
            policy: provider.resolve::<Option<Arc<HostOptions>>>()?.unwrap_or_default().background_service_failure,
            failures: provider.resolve::<Option<Arc<BackgroundFailures>>>()?.unwrap_or_default(),
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
    tracker: TaskTracker,
}

impl BackgroundHost {
    pub(crate) fn new(service: Arc<dyn BackgroundService>, provider: &Resolver<'_>) -> Result<Self, ResolveError> {
        Ok(Self { service, context: HostContext::resolve(provider)?, running: Mutex::new(None) })
    }
}

#[async_trait]
impl HostedService for BackgroundHost {
    /// Spawns `execute` and returns at once: a background service never delays start-up.
    async fn start(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        // A child of the start token: an aborted start-up cancels the work too.
        let stopping = cancel.child_token();
        let tracker = TaskTracker::new();
        // A root span: the work outlives the `start` call whose span is current here.
        let span = tracing::info_span!(parent: None, "background_service", service = self.service.name());
        tracker.spawn(supervise(self.service.clone(), stopping.clone(), self.context.clone()).instrument(span));
        tracker.close();
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = Some(Running { stopping, tracker });
        Ok(())
    }

    /// Cancels the token and waits for `execute` to return; the host's shutdown timeout bounds
    /// the wait. Stopping a service that never started does nothing.
    async fn stop(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(Running { stopping, tracker }) = running {
            stopping.cancel();
            tracker.wait().await;
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.service.name()
    }
}

/// A `T` built by constructor injection and run by a [`BackgroundHost`]: what
/// `add_background_service::<T>` registers. It declares `T`'s dependencies, and its type is what
/// `try_add_enumerable` compares, so the same `T` is registered once.
pub(crate) struct InjectedBackground<T> {
    host: BackgroundHost,
    service: PhantomData<fn() -> T>,
}

impl<T: BackgroundService + FromProvider> FromProvider for InjectedBackground<T> {
    fn from_provider(provider: &Resolver<'_>) -> Result<Self, BoxError> {
        let service: Arc<dyn BackgroundService> = Arc::new(T::from_provider(provider)?);
        Ok(Self { host: BackgroundHost::new(service, provider)?, service: PhantomData })
    }

    fn dependencies(deps: &mut Dependencies) {
        T::dependencies(deps);
    }
}

#[async_trait]
impl<T: BackgroundService + FromProvider> HostedService for InjectedBackground<T> {
    async fn start(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.host.start(cancel).await
    }

    async fn stop(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.host.stop(cancel).await
    }

    fn name(&self) -> &'static str {
        self.host.name()
    }
}

/// Runs `execute` on its own task (so a panic surfaces as a `JoinError`) and applies the policy
/// when it fails.
async fn supervise(service: Arc<dyn BackgroundService>, stopping: CancellationToken, context: HostContext) {
    let name = service.name();
    let mut restarts = 0_u32;
    loop {
        let run = {
            let (service, stopping) = (service.clone(), stopping.clone());
            tokio::spawn(async move { service.execute(stopping).await }.in_current_span())
        };
        let failure = match run.await {
            Ok(Ok(())) => {
                tracing::info!(service = name, "background service completed");
                return;
            }
            Ok(Err(error)) => {
                tracing::error!(service = name, error = %format!("{error:#}"), "background service failed");
                ServiceFailure::new(name, Phase::Execute, error)
            }
            Err(join) if join.is_panic() => {
                let message = panic_message(&*join.into_panic());
                tracing::error!(service = name, message, "background service panicked");
                ServiceFailure::panicked(name, Phase::Execute, message)
            }
            // Cancelled: the runtime is shutting down; there is nobody left to report to.
            Err(_) => return,
        };
        match context.policy {
            BackgroundServiceFailure::Ignore => return,
            BackgroundServiceFailure::Restart { backoff, max_restarts }
                if restarts < max_restarts && !stopping.is_cancelled() =>
            {
                restarts += 1;
                tracing::warn!(
                    service = name,
                    restart = restarts,
                    max_restarts,
                    ?backoff,
                    "restarting background service"
                );
                tokio::select! {
                    () = stopping.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
            }
            _ => {
                tracing::error!(
                    service = name,
                    restarts,
                    "a background service failed and the host is stopping; set \
                     `HostOptions::background_service_failure` to `Ignore` or `Restart` to keep it running"
                );
                context.failures.push(failure);
                context.lifetime.stop_application();
                return;
            }
        }
    }
}
