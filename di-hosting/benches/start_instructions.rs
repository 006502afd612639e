#![allow(missing_docs, reason = "gungraun's macros generate undocumented items")]
//! Instruction counts (callgrind, through gungraun) of the host's start and stop of 1,000
//! hosted services, next to plain-tokio baselines measured in the same run. Divide by 1,000 for
//! the cost of a service. Setup (the runtime, building the host, one warm-up host started and
//! stopped, and for a stop starting the host) is excluded.
//!
//! | case | what runs per service |
//! | --- | --- |
//! | `host_start` | `Host::start` of 1,000 no-op hosted services: resolve each (its singleton is created), its `start` phase |
//! | `plain_start` | awaiting 1,000 no-op `start` calls in order, one token clone each |
//! | `plain_cells_start` | the same, after creating each service once through a boxed factory into a `OnceLock` (the least a container does) |
//! | `host_stop` | `Host::stop` of the same 1,000 services, started in setup |
//! | `plain_stop` | awaiting 1,000 no-op `stop` calls in reverse order, one token clone each |
//! | `host_stop_background` | `Host::stop` of 1,000 started background services that wait for their token |
//! | `plain_stop_background` | tokio-util's recipe: one child token and one tracked task each; cancel, close, wait |
//!
//! Measured 2026-12-03, fifth session (instructions per service): `host_start` 1,134 (1,340 at
//! the fourth session's start), `plain_start` 323; `host_stop` 510, `plain_stop` 323;
//! `host_stop_background` 3,413 (4,195 before the stop took background services off the status
//! board as a run), `plain_stop_background` 1,389. Of `host_start`, ~200 are the user factory's
//! `Arc::new` (a plain loop that also creates its services costs 528), and glibc's consolidation
//! of the build's freed chunks moves counts by up to ±90 without a code change. More in
//! `docs/benchmarks.md` ("Background services stopped as a run", "Cheaper singleton creation").
//!
//! Run with `cargo bench -p di-hosting --bench start_instructions` (needs valgrind and
//! `cargo install gungraun-runner --version 0.20.0`).

use std::hint::black_box;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use di_hosting::{BackgroundService, CancellationToken, Host, HostedService, HostingServiceCollectionExt};
use gungraun::{library_benchmark, library_benchmark_group, main};
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

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

fn noop_host() -> Host {
    Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(|s| {
            for _ in 0..SERVICES {
                s.add_hosted_service_with(|_| Ok(Noop));
            }
        })
        .build()
        .expect("a valid host")
}

fn background_host() -> Host {
    Host::builder()
        .configure_options(|o| o.suppress_status_messages = true)
        .configure_services(|s| {
            for _ in 0..SERVICES {
                s.add_background_service_with(|_| Ok(Waits));
            }
        })
        .build()
        .expect("a valid host")
}

/// A runtime on which one host like `make`'s was started and stopped (lazy initialisation out
/// of the count), and a fresh such host; started too with `started`.
fn warmed(make: fn() -> Host, started: bool) -> (Runtime, Host) {
    let runtime = runtime();
    let warm_up = make();
    runtime.block_on(warm_up.start()).expect("starts");
    assert!(runtime.block_on(warm_up.stop()).is_success(), "the warm-up host stops");
    let host = make();
    if started {
        runtime.block_on(host.start()).expect("starts");
    }
    (runtime, host)
}

fn host_not_started() -> (Runtime, Host) {
    warmed(noop_host, false)
}

fn host_started() -> (Runtime, Host) {
    warmed(noop_host, true)
}

fn background_started() -> (Runtime, Host) {
    warmed(background_host, true)
}

#[library_benchmark]
#[bench::services_1000(setup = host_not_started)]
fn host_start((runtime, host): (Runtime, Host)) {
    runtime.block_on(host.start()).expect("starts");
    std::mem::forget(black_box((runtime, host)));
}

#[library_benchmark]
#[bench::services_1000(setup = host_started)]
fn host_stop((runtime, host): (Runtime, Host)) {
    let report = runtime.block_on(host.stop());
    assert!(report.is_success(), "{report}");
    std::mem::forget(black_box((runtime, host, report)));
}

#[library_benchmark]
#[bench::services_1000(setup = background_started)]
fn host_stop_background((runtime, host): (Runtime, Host)) {
    let report = runtime.block_on(host.stop());
    assert!(report.is_success(), "{report}");
    std::mem::forget(black_box((runtime, host, report)));
}

/// 1,000 no-op services, after one warm-up round of `start` calls.
fn plain_services() -> (Runtime, Vec<Box<dyn HostedService>>) {
    let runtime = runtime();
    let services: Vec<Box<dyn HostedService>> = (0..SERVICES).map(|_| Box::new(Noop) as _).collect();
    runtime.block_on(async {
        let token = CancellationToken::new();
        for service in &services {
            service.start(token.clone()).await.expect("no-op");
        }
    });
    (runtime, services)
}

#[library_benchmark]
#[bench::services_1000(setup = plain_services)]
fn plain_start((runtime, services): (Runtime, Vec<Box<dyn HostedService>>)) {
    runtime.block_on(async {
        let token = CancellationToken::new();
        for service in &services {
            service.start(token.clone()).await.expect("no-op");
        }
    });
    std::mem::forget(black_box((runtime, services)));
}

/// A factory, as a container keeps one: boxed, behind a pointer.
type Make = Box<dyn Fn() -> Arc<dyn HostedService> + Send + Sync>;
/// The least an exactly-once container keeps per service: its factory and a `OnceLock`.
type Cells = Vec<(Make, OnceLock<Arc<dyn HostedService>>)>;

/// 1,000 boxed factories and empty cells, after one warm-up round like the measured one.
fn plain_cells() -> (Runtime, Cells) {
    let runtime = runtime();
    let cells = || -> Cells {
        (0..SERVICES)
            .map(|_| (Box::new(|| Arc::new(Noop) as Arc<dyn HostedService>) as Make, OnceLock::new()))
            .collect()
    };
    let warm_up = cells();
    create_and_start(&runtime, &warm_up);
    (runtime, cells())
}

/// Each service created once into its cell, then started in order.
fn create_and_start(runtime: &Runtime, cells: &Cells) -> Vec<Arc<dyn HostedService>> {
    let services: Vec<Arc<dyn HostedService>> =
        cells.iter().map(|(make, cell)| cell.get_or_init(make).clone()).collect();
    runtime.block_on(async {
        let token = CancellationToken::new();
        for service in &services {
            service.start(token.clone()).await.expect("no-op");
        }
    });
    services
}

#[library_benchmark]
#[bench::services_1000(setup = plain_cells)]
fn plain_cells_start((runtime, cells): (Runtime, Cells)) {
    let services = create_and_start(&runtime, &cells);
    std::mem::forget(black_box((runtime, cells, services)));
}

#[library_benchmark]
#[bench::services_1000(setup = plain_services)]
fn plain_stop((runtime, services): (Runtime, Vec<Box<dyn HostedService>>)) {
    runtime.block_on(async {
        let token = CancellationToken::new();
        for service in services.iter().rev() {
            service.stop(token.clone()).await.expect("no-op");
        }
    });
    std::mem::forget(black_box((runtime, services)));
}

/// 1,000 tasks on a tracker, each waiting for its child token.
fn plain_background() -> (Runtime, CancellationToken, TaskTracker) {
    let runtime = runtime();
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    runtime.block_on(async {
        for _ in 0..SERVICES {
            let token = token.child_token();
            tracker.spawn(async move { token.cancelled().await });
        }
        tokio::task::yield_now().await;
    });
    (runtime, token, tracker)
}

#[library_benchmark]
#[bench::services_1000(setup = plain_background)]
fn plain_stop_background((runtime, token, tracker): (Runtime, CancellationToken, TaskTracker)) {
    runtime.block_on(async {
        token.cancel();
        tracker.close();
        tracker.wait().await;
    });
    std::mem::forget(black_box((runtime, token, tracker)));
}

library_benchmark_group!(
    name = host;
    benchmarks = host_start, plain_start, plain_cells_start, host_stop, plain_stop, host_stop_background, plain_stop_background
);

main!(library_benchmark_groups = host);
