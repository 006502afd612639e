//! Running one lifecycle phase over the hosted services: serially or concurrently, each call in
//! a `tracing` span named after the service, panics caught, bounded by a [`Deadline`].

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use di_core::error::panic_message;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, join_all};
use tracing::Instrument as _;

use crate::error::{Phase, ServiceFailure, chain};
use crate::hosted_service::HostedService;
use crate::shutdown::Deadline;
use crate::status::{BackgroundRun, ServiceState, StatusBoard, kind};

/// What one phase did, per service (indices into the host's service list).
#[derive(Debug, Default)]
pub(crate) struct PhaseOutcome {
    /// Services whose call returned `Ok`, in completion-recording order.
    pub(crate) completed: Vec<usize>,
    pub(crate) failures: Vec<ServiceFailure>,
    /// Services abandoned when the deadline expired.
    pub(crate) timed_out: Vec<&'static str>,
}

impl PhaseOutcome {
    pub(crate) fn is_ok(&self) -> bool {
        self.failures.is_empty() && self.timed_out.is_empty()
    }

    #[inline]
    fn record(&mut self, index: usize, service: &dyn HostedService, call: Call) {
        match call {
            Call::Done => self.completed.push(index),
            Call::Failed(failure) => self.failures.push(*failure),
            Call::Abandoned => self.timed_out.push(service.name()),
        }
    }
}

enum Call {
    Done,
    /// Boxed: a call that fails is rare, and a small `Call` is cheap to hand back.
    Failed(Box<ServiceFailure>),
    Abandoned,
}

/// How to run a phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PhasePlan {
    pub(crate) phase: Phase,
    /// Call every service at once (`join_all`: each is first polled in order, then they interleave).
    pub(crate) concurrent: bool,
    /// Serial only: stop calling services after the first failure (start phases do; stop phases never).
    pub(crate) abort_on_failure: bool,
}

/// Calls `plan.phase` on `services[i]` for each `i` in `order`, recording each service's state
/// on `status` around `start` and `stop`. For a hook phase (`starting`, `started`, `stopping`,
/// `stopped`), `order` holds only services with hooks (see `StatusBoard::register`).
pub(crate) async fn run_phase(
    services: &[Arc<dyn HostedService>],
    order: &[usize],
    plan: PhasePlan,
    deadline: &Deadline,
    status: &StatusBoard,
) -> PhaseOutcome {
    let mut outcome = PhaseOutcome { completed: Vec::with_capacity(order.len()), ..PhaseOutcome::default() };
    if plan.concurrent {
        let calls =
            order.iter().map(|&i| async move { (i, tracked(&*services[i], i, plan.phase, deadline, status).await) });
        for (i, result) in join_all(calls).await {
            outcome.record(i, &*services[i], result);
        }
    } else {
        let mut serial = Serial { services, order, plan, deadline, status, next: 0 };
        loop {
            let advanced = std::future::poll_fn(|cx| Poll::Ready(serial.advance(&mut outcome, cx))).await;
            let (i, fut, span) = match advanced {
                Advanced::Finished => break,
                Advanced::Pending(i, fut, span) => (i, fut, span),
                Advanced::Background(run, slots) => {
                    stop_background(run, slots, deadline, status).await;
                    for &i in slots {
                        outcome.record(i, &*services[i], Call::Done);
                    }
                    continue;
                }
            };
            // Awaited in place, not boxed: one call at a time, so a box would cost an
            // allocation and a copy of the bounded future per service.
            let result = rest(&*services[i], i, plan.phase, deadline, status, fut, span).await;
            let failed = !matches!(result, Call::Done);
            outcome.record(i, &*services[i], result);
            if failed && plan.abort_on_failure {
                break;
            }
        }
    }
    outcome
}

/// A serial phase: the calls made so far.
struct Serial<'a> {
    services: &'a [Arc<dyn HostedService>],
    order: &'a [usize],
    plan: PhasePlan,
    deadline: &'a Deadline,
    status: &'a StatusBoard,
    /// The position in `order` of the next service to call.
    next: usize,
}

/// How far a serial phase got in one poll.
enum Advanced<'a> {
    /// Every service was called, or one failed and the phase aborts.
    Finished,
    /// The call of `services[i]` is still pending after its first poll.
    Pending(usize, BoxFuture<'a, anyhow::Result<()>>, tracing::Span),
    /// The stop phase reached running background services next to each other in `order`
    /// (these): they were taken off the board with their tokens cancelled together, and the
    /// phase waits for their tasks instead of calling each one's `stop` (see `Host::stop`).
    Background(BackgroundRun, &'a [usize]),
}

impl<'a> Serial<'a> {
    /// Calls the services in order, each done at its first poll, until one is still pending:
    /// no task state is kept per call that finishes at once (each `.await` of a finished call
    /// would not yield either).
    fn advance(&mut self, outcome: &mut PhaseOutcome, cx: &mut Context<'_>) -> Advanced<'a> {
        while let Some(&i) = self.order.get(self.next) {
            if self.plan.phase == Phase::Stop {
                let rest = &self.order[self.next..];
                let run = self.status.take_background_run(rest);
                let len = run.len;
                if len > 0 {
                    self.next += len;
                    return Advanced::Background(run, &rest[..len]);
                }
            }
            self.next += 1;
            let service = &*self.services[i];
            match first_poll(service, i, self.plan.phase, self.deadline, self.status, cx) {
                First::Done(call) => {
                    let failed = !matches!(call, Call::Done);
                    outcome.record(i, service, call);
                    if failed && self.plan.abort_on_failure {
                        return Advanced::Finished;
                    }
                }
                First::Pending(fut, span) => return Advanced::Pending(i, fut, span),
            }
        }
        Advanced::Finished
    }
}

fn invoke<'a>(service: &'a dyn HostedService, phase: Phase, deadline: &Deadline) -> BoxFuture<'a, anyhow::Result<()>> {
    let token = deadline.token();
    let hooks = match phase {
        Phase::Start => return service.start(token),
        Phase::Stop => return service.stop(token),
        // `execute` belongs to background services and is never run as a host phase.
        Phase::Execute => None,
        Phase::Starting | Phase::Started | Phase::Stopping | Phase::Stopped => service.lifecycle(),
    };
    // A hook phase only calls services with hooks; without them there is nothing to run.
    let Some(hooks) = hooks else { return Box::pin(async { Ok(()) }) };
    match phase {
        Phase::Starting => hooks.starting(token),
        Phase::Started => hooks.started(token),
        Phase::Stopping => hooks.stopping(token),
        _ => hooks.stopped(token),
    }
}

/// One service's call in a phase, with its state recorded before and after `start` and `stop`
/// (a failed service stays failed: its stop does not hide the failure).
///
/// The phase's future is polled once at once, synchronously, in the service's span when a
/// subscriber wants it, with panics caught: a call that is then done (the common case, a no-op
/// or quick `start`) costs no deadline machinery and no state kept across an `await`. One still
/// pending goes on, boxed (so each of a concurrent phase's futures stays small), under
/// [`Deadline::bound`]. A serial phase runs the same steps in [`Serial::advance`].
async fn tracked(
    service: &dyn HostedService,
    slot: usize,
    phase: Phase,
    deadline: &Deadline,
    status: &StatusBoard,
) -> Call {
    let first = std::future::poll_fn(|cx| Poll::Ready(first_poll(service, slot, phase, deadline, status, cx))).await;
    match first {
        First::Done(call) => call,
        First::Pending(fut, span) => Box::pin(rest(service, slot, phase, deadline, status, fut, span)).await,
    }
}

/// A call after its first poll.
enum First<'a> {
    Done(Call),
    Pending(BoxFuture<'a, anyhow::Result<()>>, tracing::Span),
}

#[inline(always)] // into `Serial::advance`, its loop: one call frame fewer per service
fn first_poll<'a>(
    service: &'a dyn HostedService,
    slot: usize,
    phase: Phase,
    deadline: &Deadline,
    status: &StatusBoard,
    cx: &mut Context<'_>,
) -> First<'a> {
    match phase {
        Phase::Start => status.set_kind(slot, kind::STARTING),
        Phase::Stop => status.set_kind_if(slot, kind::not_failed, kind::STOPPING),
        _ => {}
    }
    // The name (a virtual call) is asked only by a span or event that a subscriber wants.
    let span = tracing::info_span!("hosted_service", service = service.name(), %phase);
    // A disabled span (no subscriber wants it) would only be entered and left.
    let entered = (!span.is_disabled()).then(|| span.enter());
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut fut = invoke(service, phase, deadline);
        match fut.as_mut().poll(cx) {
            Poll::Ready(out) => Ok(out),
            Poll::Pending => Err(fut),
        }
    }));
    drop(entered);
    match polled {
        // The common case, without the general bookkeeping of `settled`.
        Ok(Ok(Ok(()))) => {
            tracing::debug!(service = service.name(), %phase, "hosted service phase completed");
            done(status, slot, phase);
            First::Done(Call::Done)
        }
        Ok(Err(fut)) => First::Pending(fut, span),
        Ok(Ok(Err(error))) => First::Done(settled(service, slot, phase, status, Some(Ok(Err(error))))),
        Err(payload) => First::Done(settled(service, slot, phase, status, Some(Err(payload)))),
    }
}

/// Records that the call of `phase` on the service at `slot` returned `Ok`.
fn done(status: &StatusBoard, slot: usize, phase: Phase) {
    match phase {
        // A background service records `Running` itself, and may have failed already.
        Phase::Start => status.set_kind_if(slot, |k| k == kind::STARTING, kind::RUNNING),
        Phase::Stop => status.set_kind_if(slot, kind::not_failed, kind::STOPPED),
        _ => {}
    }
}

/// The rest of a call still pending after its first poll: bounded by the deadline, in its span.
/// (Polled again at once: a spurious poll, harmless by `Future`'s contract.)
async fn rest(
    service: &dyn HostedService,
    slot: usize,
    phase: Phase,
    deadline: &Deadline,
    status: &StatusBoard,
    fut: BoxFuture<'_, anyhow::Result<()>>,
    span: tracing::Span,
) -> Call {
    let fut = AssertUnwindSafe(fut).catch_unwind();
    let result =
        if span.is_disabled() { deadline.bound(fut).await } else { deadline.bound(fut.instrument(span)).await };
    settled(service, slot, phase, status, result)
}

/// Waits for background services taken off the board by a stop (their tokens cancelled), as
/// their own `stop` calls would, bounded by the deadline: all their tasks at once when they
/// were the last running ones (woken once, not once per task still running when its turn
/// comes: on a multi-thread runtime, a wake-up round trip between workers each), otherwise
/// each task in turn. A task still running at the deadline is abandoned here and named by the
/// host's tracker. Each service not failed is then `Stopped`.
async fn stop_background(run: BackgroundRun, slots: &[usize], deadline: &Deadline, status: &StatusBoard) {
    let BackgroundRun { mut tasks, last, .. } = run;
    if last {
        let _ = deadline.bound(status.background_ended()).await;
    } else {
        for (_, task) in &mut tasks {
            if deadline.bound(task).await.is_none() {
                break;
            }
        }
    }
    for (slot, task) in &tasks {
        if !task.is_finished() {
            let service = status.name(*slot).unwrap_or_default();
            tracing::warn!(service, "background service did not return from `execute` in time");
        }
    }
    for &slot in slots {
        status.set_kind_if(slot, kind::not_failed, kind::STOPPED);
    }
    tracing::debug!(services = slots.len(), "background services stopped");
}

/// How a call ended, logged and recorded on `status`.
#[inline(never)] // the slow path: a failure, or a call that was pending
fn settled(
    service: &dyn HostedService,
    slot: usize,
    phase: Phase,
    status: &StatusBoard,
    result: Option<std::thread::Result<anyhow::Result<()>>>,
) -> Call {
    let call = settle(service.name(), phase, result);
    match &call {
        Call::Failed(failure) => status.set_state(slot, ServiceState::Failed { error: chain(failure) }),
        Call::Done => done(status, slot, phase),
        Call::Abandoned => {}
    }
    call
}

/// Logs how a call ended and says what it means for the phase.
fn settle(name: &'static str, phase: Phase, result: Option<std::thread::Result<anyhow::Result<()>>>) -> Call {
    match result {
        Some(Ok(Ok(()))) => {
            tracing::debug!(service = name, %phase, "hosted service phase completed");
            Call::Done
        }
        Some(Ok(Err(error))) => {
            tracing::error!(service = name, %phase, error = %format!("{error:#}"), "hosted service failed");
            Call::Failed(Box::new(ServiceFailure::new(name, phase, error)))
        }
        Some(Err(payload)) => {
            let message = panic_message(&*payload);
            tracing::error!(service = name, %phase, message, "hosted service panicked");
            Call::Failed(Box::new(ServiceFailure::panicked(name, phase, message)))
        }
        None => {
            tracing::warn!(service = name, %phase, "hosted service did not finish in time and was abandoned");
            Call::Abandoned
        }
    }
}
