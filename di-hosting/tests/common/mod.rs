//! Shared helpers for the host tests: a hosted service that records every callback and can be
//! told to fail, panic, hang or take time in any phase.
#![allow(dead_code, reason = "each test file uses a different subset of the helpers")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use di_hosting::{CancellationToken, HostedLifecycleService, HostedService, Phase};

/// An append-only event log shared by services, callbacks and the test.
#[derive(Debug, Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub(crate) fn push(&self, event: impl Into<String>) {
        self.0.lock().expect("log lock").push(event.into());
    }

    pub(crate) fn events(&self) -> Vec<String> {
        self.0.lock().expect("log lock").clone()
    }

    /// The events of one phase (`x:phase` and `x:phase:...`), in order.
    pub(crate) fn of_phase(&self, phase: Phase) -> Vec<String> {
        let phase = phase.to_string();
        self.events().into_iter().filter(|e| e.split(':').nth(1) == Some(phase.as_str())).collect()
    }

    /// The events that start with `prefix`.
    pub(crate) fn matching(&self, prefix: &str) -> Vec<String> {
        self.events().into_iter().filter(|e| e.starts_with(prefix)).collect()
    }
}

/// What a [`Recorder`] does in one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Log `name:phase` and return `Ok`.
    Succeed,
    /// Log, then return `Err("name failed in phase")`.
    Fail,
    /// Log, then panic with `"name panicked in phase"`.
    Panic,
    /// Log `name:phase`, sleep, log `name:phase:end`, return `Ok`.
    Take(Duration),
    /// Log, then never return, ignoring the token.
    Hang,
    /// Log, wait for the token, log `name:phase:cancelled`, return `Ok`.
    UntilCancelled,
}

/// A hosted service that logs `name:phase` for every callback.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    pub(crate) name: &'static str,
    pub(crate) log: Log,
    pub(crate) behaviours: Vec<(Phase, Behaviour)>,
    /// Whether it opts in to the lifecycle hooks (`HostedService::lifecycle` returns `Some`).
    pub(crate) hooks: bool,
}

impl Recorder {
    pub(crate) fn new(name: &'static str, log: &Log) -> Self {
        Self { name, log: log.clone(), behaviours: Vec::new(), hooks: true }
    }

    /// The same recorder without lifecycle hooks: only `start` and `stop` are ever called.
    #[must_use]
    pub(crate) fn without_hooks(mut self) -> Self {
        self.hooks = false;
        self
    }

    #[must_use]
    pub(crate) fn on(mut self, phase: Phase, behaviour: Behaviour) -> Self {
        self.behaviours.push((phase, behaviour));
        self
    }

    async fn act(&self, phase: Phase, cancel: CancellationToken) -> anyhow::Result<()> {
        let event = format!("{}:{phase}", self.name);
        self.log.push(event.clone());
        let behaviour = self.behaviours.iter().find(|(p, _)| *p == phase).map_or(Behaviour::Succeed, |(_, b)| *b);
        match behaviour {
            Behaviour::Succeed => Ok(()),
            Behaviour::Fail => Err(anyhow::anyhow!("{} failed in {phase}", self.name)),
            Behaviour::Panic => panic!("{} panicked in {phase}", self.name),
            Behaviour::Take(duration) => {
                tokio::time::sleep(duration).await;
                self.log.push(format!("{event}:end"));
                Ok(())
            }
            Behaviour::Hang => std::future::pending().await,
            Behaviour::UntilCancelled => {
                cancel.cancelled().await;
                self.log.push(format!("{event}:cancelled"));
                Ok(())
            }
        }
    }
}

#[async_trait::async_trait]
impl HostedService for Recorder {
    async fn start(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.act(Phase::Start, cancel).await
    }
    async fn stop(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.act(Phase::Stop, cancel).await
    }
    fn name(&self) -> &'static str {
        self.name
    }
    fn lifecycle(&self) -> Option<&dyn HostedLifecycleService> {
        if self.hooks { Some(self) } else { None }
    }
}

#[async_trait::async_trait]
impl HostedLifecycleService for Recorder {
    async fn starting(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.act(Phase::Starting, cancel).await
    }
    async fn started(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.act(Phase::Started, cancel).await
    }
    async fn stopping(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.act(Phase::Stopping, cancel).await
    }
    async fn stopped(&self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.act(Phase::Stopped, cancel).await
    }
}

/// Records the three lifetime events into `log` as `app:started`, `app:stopping`, `app:stopped`.
pub(crate) fn record_lifetime(lifetime: &di_hosting::ApplicationLifetime, log: &Log) {
    let l = log.clone();
    lifetime.on_started(move || {
        l.push("app:started");
        Ok(())
    });
    let l = log.clone();
    lifetime.on_stopping(move || {
        l.push("app:stopping");
        Ok(())
    });
    let l = log.clone();
    lifetime.on_stopped(move || {
        l.push("app:stopped");
        Ok(())
    });
}

/// `["a:start", "b:start"]` from `&["a:start", "b:start"]`.
pub(crate) fn strings(events: &[&str]) -> Vec<String> {
    events.iter().map(|e| (*e).to_owned()).collect()
}

/// A host running `recorders` in order, with status messages suppressed and `configure` applied.
pub(crate) fn host_with(
    recorders: Vec<Recorder>,
    configure: impl FnOnce(&mut di_hosting::HostOptions),
) -> di_hosting::Host {
    use di_hosting::HostingServiceCollectionExt as _;
    let mut builder = di_hosting::Host::builder().configure_options(|o| {
        o.suppress_status_messages = true;
        configure(o);
    });
    for recorder in recorders {
        builder.services().add_hosted_service_with(move |_| Ok(recorder.clone()));
    }
    builder.build().expect("the test host builds")
}
