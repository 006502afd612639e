#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]
//! Host start-up and shutdown next to plain tokio, in the same run (criterion; compare ratios).
//!
//! - `start_1000_hosted`: starting 1,000 hosted services whose `start` does nothing, next to
//!   awaiting 1,000 such `start` calls in order.
//! - `stop_1000_background`: stopping 1,000 background services that wait for their token, on
//!   a multi-thread runtime, next to tokio-util's recipe by hand (one token, one tracker: cancel,
//!   close, wait).
//! - `stop_1000_background/plain_tokio_one_at_a_time_in_reverse`: the same services stopped in
//!   strict reverse order by hand (cancel one token, await its task, then the next), from a task.
//!
//! Run with `cargo bench -p di-hosting --bench host`. Criterion times one case after the other;
//! on a shared machine its ratios move by ±25% between runs: `benches/ratios.rs` times the same
//! cases in pairs, for ratios that hold.

use std::time::Duration;

use async_trait::async_trait;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use di_hosting::{BackgroundService, CancellationToken, Host, HostedService, HostingServiceCollectionExt};
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

fn start(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("start_1000_hosted");
    group.bench_function("plain_tokio_awaited_in_order", |b| {
        b.iter_batched(
            || (0..SERVICES).map(|_| Box::new(Noop) as Box<dyn HostedService>).collect::<Vec<_>>(),
            |services| {
                rt.block_on(async {
                    let token = CancellationToken::new();
                    for service in &services {
                        service.start(token.clone()).await.expect("no-op");
                    }
                });
                services
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("host", |b| {
        b.iter_batched(
            || {
                host(|s| {
                    for _ in 0..SERVICES {
                        s.add_hosted_service_with(|_| Ok(Noop));
                    }
                })
            },
            |host| {
                rt.block_on(host.start()).expect("starts");
                host // stopped and dropped outside the timed routine
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn stop(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("stop_1000_background");
    group.bench_function("plain_tokio_token_and_tracker", |b| {
        b.iter_batched(
            || {
                let token = CancellationToken::new();
                let tracker = TaskTracker::new();
                rt.block_on(async {
                    for _ in 0..SERVICES {
                        let token = token.child_token();
                        tracker.spawn(async move { token.cancelled().await });
                    }
                    tokio::task::yield_now().await;
                });
                (token, tracker)
            },
            |(token, tracker)| {
                rt.block_on(async {
                    token.cancel();
                    tracker.close();
                    tracker.wait().await;
                });
            },
            BatchSize::SmallInput,
        );
    });
    // The floor for a stop in strict reverse order: one child token and one task per service,
    // each cancelled and awaited before the next (from a task, as the host's shutdown runs).
    group.bench_function("plain_tokio_one_at_a_time_in_reverse", |b| {
        b.iter_batched(
            || {
                rt.block_on(async {
                    let token = CancellationToken::new();
                    (0..SERVICES)
                        .map(|_| {
                            let child = token.child_token();
                            let waits = child.clone();
                            (child, tokio::spawn(async move { waits.cancelled().await }))
                        })
                        .collect::<Vec<_>>()
                })
            },
            |services| {
                rt.block_on(async {
                    tokio::spawn(async move {
                        for (token, task) in services.into_iter().rev() {
                            token.cancel();
                            task.await.expect("no panic");
                        }
                    })
                    .await
                    .expect("no panic");
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("host", |b| {
        b.iter_batched(
            || {
                let host = host(|s| {
                    for _ in 0..SERVICES {
                        s.add_background_service_with(|_| Ok(Waits));
                    }
                });
                rt.block_on(host.start()).expect("starts");
                host
            },
            |host| {
                let report = rt.block_on(host.stop());
                assert!(report.is_success(), "{report}");
                host
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = start, stop
}
criterion_main!(benches);
