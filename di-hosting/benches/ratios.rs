#![allow(missing_docs, clippy::print_stdout, reason = "a benchmark binary, reporting on stdout")]
//! The host next to plain tokio, timed in pairs: each pair runs one plain iteration and then
//! one host iteration, so whatever the shared machine does meanwhile (another tenant, the
//! clock) hits both alike; the figures are medians over the pairs. Criterion's `host` bench
//! times all of one case before the other, and its ratios move by ±25% from one run to the next
//! on this machine; these move by a few percent.
//!
//! - `start`: starting 1,000 no-op hosted services (current-thread runtime), next to awaiting
//!   1,000 `start` calls in order. For reference (the host creates its services, the plain loop
//!   is handed them): the same loop that first creates each service in an `Arc`; the same again
//!   with each creation exactly once, through a boxed factory into a `OnceLock` (the least a
//!   container does); and the host's resolve of its services alone, without the start phase.
//! - `stop`: stopping 1,000 background services that wait for their token (multi-thread runtime,
//!   two workers), next to tokio-util's recipe by hand (one token, one tracker: cancel, close,
//!   wait).
//!
//! Run with `cargo bench -p di-hosting --bench ratios` (both cases, 300 pairs each), or
//! `cargo bench -p di-hosting --bench ratios -- stop 1000`.

use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use di_hosting::{BackgroundService, CancellationToken, Host, HostedService, HostingServiceCollectionExt};
use tokio::runtime::Runtime;
use tokio_util::task::TaskTracker;

const SERVICES: usize = 1_000;

struct Noop;

#[async_trait]
impl HostedService for Noop {
    async fn start(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }

    async fn stop(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        Ok(())
    }
}

struct Waits;

#[async_trait]
impl BackgroundService for Waits {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        stopping.cancelled().await;
        Ok(())
    }
}

fn host(configure: impl FnOnce(&mut di_core::ServiceCollection)) -> Host {
    Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(configure)
        .build()
        .expect("a valid host")
}

/// Times `f` once.
fn time<R>(f: impl FnOnce() -> R) -> (Duration, R) {
    let started = Instant::now();
    let out = f();
    (started.elapsed(), out)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Prints each case's median and its ratio to the first (the baseline).
fn report(what: &str, cases: Vec<(&str, Vec<Duration>)>) {
    let medians: Vec<(&str, Duration)> = cases.into_iter().map(|(name, samples)| (name, median(samples))).collect();
    let baseline = medians[0].1.as_secs_f64();
    println!("{what}");
    for (name, median) in medians {
        println!("  {name:<46} {median:>12.2?}  {:>5.2}x", median.as_secs_f64() / baseline);
    }
}

/// A factory, as a container keeps one: boxed, behind a pointer.
type Make = Box<dyn Fn() -> Arc<dyn HostedService> + Send + Sync>;

fn noop_host() -> Host {
    host(|s| {
        for _ in 0..SERVICES {
            s.add_hosted_service_with(|_| Ok(Noop));
        }
    })
}

fn start(pairs: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let (mut plain, mut created, mut cells, mut hosted, mut resolved) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let start_all = |rt: &Runtime, services: &[Arc<dyn HostedService>]| {
        rt.block_on(async {
            let token = CancellationToken::new();
            for service in services {
                service.start(token.clone()).await.expect("no-op");
            }
        });
    };
    for _ in 0..pairs {
        let services: Vec<Arc<dyn HostedService>> = (0..SERVICES).map(|_| Arc::new(Noop) as _).collect();
        plain.push(time(|| start_all(&rt, &services)).0);
        drop(services);
        let (elapsed, services) = time(|| {
            let services: Vec<Arc<dyn HostedService>> = (0..SERVICES).map(|_| Arc::new(Noop) as _).collect();
            start_all(&rt, &services);
            services
        });
        created.push(elapsed);
        drop(black_box(services));
        // The least an exactly-once container does: a boxed factory and a `OnceLock` per service.
        let registry: Vec<(Make, OnceLock<Arc<dyn HostedService>>)> = (0..SERVICES)
            .map(|_| (Box::new(|| Arc::new(Noop) as Arc<dyn HostedService>) as Make, OnceLock::new()))
            .collect();
        let (elapsed, services) = time(|| {
            let services: Vec<Arc<dyn HostedService>> =
                registry.iter().map(|(make, cell)| cell.get_or_init(make).clone()).collect();
            start_all(&rt, &services);
            services
        });
        cells.push(elapsed);
        drop(black_box((services, registry)));
        let (host, other) = (noop_host(), noop_host());
        hosted.push(time(|| rt.block_on(host.start()).expect("starts")).0);
        rt.block_on(host.stop());
        // What of the host's start is di-core's: resolving its services, on a host of its own.
        let resolve = || other.provider().resolve::<Vec<Arc<dyn HostedService>>>().expect("resolves");
        resolved.push(time(|| black_box(resolve())).0);
    }
    report(
        "start 1,000 hosted services (current-thread runtime), medians of pairs",
        vec![
            ("plain tokio: awaited in order", plain),
            ("plain tokio: created, then awaited", created),
            ("plain tokio: created once in cells, awaited", cells),
            ("host", hosted),
            ("host: its services' resolve alone", resolved),
        ],
    );
}

fn stop(pairs: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let (mut plain, mut hosted) = (Vec::new(), Vec::new());
    for _ in 0..pairs {
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        rt.block_on(async {
            for _ in 0..SERVICES {
                let token = token.child_token();
                tracker.spawn(async move { token.cancelled().await });
            }
            tokio::task::yield_now().await;
        });
        plain.push(
            time(|| {
                rt.block_on(async {
                    token.cancel();
                    tracker.close();
                    tracker.wait().await;
                });
            })
            .0,
        );
        let host = host(|s| {
            for _ in 0..SERVICES {
                s.add_background_service_with(|_| Ok(Waits));
            }
        });
        rt.block_on(host.start()).expect("starts");
        let (elapsed, report) = time(|| rt.block_on(host.stop()));
        assert!(report.is_success(), "{report}");
        hosted.push(elapsed);
    }
    report(
        "stop 1,000 background services (multi-thread runtime, 2 workers), medians of pairs",
        vec![("plain tokio: one token, one tracker", plain), ("host", hosted)],
    );
}

fn main() {
    // `cargo bench` passes `--bench`; the rest: which case, and how many pairs.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let case = args.first().map_or("all", String::as_str);
    let pairs = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(300);
    if matches!(case, "all" | "start") {
        start(pairs);
    }
    if matches!(case, "all" | "stop") {
        stop(pairs);
    }
}
