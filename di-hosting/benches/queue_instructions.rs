#![allow(missing_docs, reason = "gungraun's macros generate undocumented items")]
//! Instruction counts (callgrind, through gungraun) of queued work: 100 no-op items through a
//! queue of capacity 100 drained one at a time, next to plain-tokio baselines measured in the
//! same run. Each benchmark function is one round of 100 items: divide by 100 for the cost of
//! an item. Setup (the runtime, the container, the started service, one warm-up round) is
//! excluded.
//!
//! | case | what runs per item |
//! | --- | --- |
//! | `queued_work` | `try_enqueue` a `WorkItem`; the service takes it, runs it in a fresh DI scope |
//! | `mpsc_direct` | `try_send` a boxed job on a tokio `mpsc`; one consumer task awaits it |
//! | `mpsc_task_per_item` | the same, the consumer spawns a task per job and awaits it |
//! | `mpsc_task_and_scope` | the same, each task creates a DI scope, resolves from it, disposes it |
//! | `mpsc_direct_scope` | the direct consumer, with a DI scope per job (no task per job) |
//!
//! Measured 2026-12-03 (instructions per item): `queued_work` 1,994 (2,131 before one future per
//! item, 8,027 before the issue-11 rework); `mpsc_direct` 540; `mpsc_direct_scope` 1,708;
//! `mpsc_task_per_item` 2,901; `mpsc_task_and_scope` 5,281. The DI scope alone (create, resolve its provider, dispose)
//! costs about 1,150 of them.
//!
//! Run with `cargo bench -p di-hosting --bench queue_instructions` (needs valgrind and
//! `cargo install gungraun-runner --version 0.20.0`).

use std::hint::black_box;
use std::sync::Arc;

use di_core::{ServiceCollection, ServiceProvider};
use di_hosting::{
    BackgroundTaskQueue, BackgroundWorkExt, CancellationToken, HostedService, QueueOptions, WorkItem, WorkMetrics,
};
use futures_util::future::BoxFuture;
use gungraun::{library_benchmark, library_benchmark_group, main};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

const ITEMS: usize = 100;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime")
}

/// A started queued-work service, warmed up by one round.
struct Queued {
    runtime: Runtime,
    queue: Arc<dyn BackgroundTaskQueue>,
    metrics: Arc<WorkMetrics>,
    _provider: Arc<ServiceProvider>,
}

impl Queued {
    fn round(&self) -> usize {
        let target = self.metrics.completed() + ITEMS;
        self.runtime.block_on(async {
            let (done, finished) = oneshot::channel();
            let mut done = Some(done);
            for number in 1..=ITEMS {
                let item = if number == ITEMS {
                    let done = done.take();
                    WorkItem::named("last", move |_cx| async move {
                        done.map(|done| done.send(()));
                        Ok(())
                    })
                } else {
                    WorkItem::named("noop", |_cx| async { Ok(()) })
                };
                self.queue.try_enqueue(item).expect("room for every item");
            }
            finished.await.expect("the last item ran");
        });
        assert!(self.metrics.completed() >= target - 1, "every item ran");
        self.metrics.completed()
    }
}

fn queued() -> Queued {
    let runtime = runtime();
    let mut services = ServiceCollection::new();
    services.add_queued_work(QueueOptions::default().capacity(ITEMS).concurrency(1)).expect("valid options");
    let provider = services.build().expect("builds");
    let queue = provider.get::<dyn BackgroundTaskQueue>().expect("the queue");
    let metrics = provider.get::<WorkMetrics>().expect("the metrics");
    runtime.block_on(async {
        for service in provider.resolve::<Vec<Arc<dyn HostedService>>>().expect("services") {
            service.start(CancellationToken::new()).await.expect("starts");
        }
    });
    let queued = Queued { runtime, queue, metrics, _provider: provider };
    queued.round();
    queued
}

#[library_benchmark]
#[bench::items_100(setup = queued)]
fn queued_work(queued: Queued) -> usize {
    let completed = queued.round();
    std::mem::forget(queued);
    black_box(completed)
}

type Job = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// How the plain-tokio consumer runs each job.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Consumer {
    Direct,
    DirectScope,
    TaskPerItem,
    TaskAndScope,
}

struct Plain {
    runtime: Runtime,
    sender: mpsc::Sender<(Job, Option<oneshot::Sender<()>>)>,
}

impl Plain {
    fn round(&self) {
        self.runtime.block_on(async {
            let (done, finished) = oneshot::channel();
            let mut done = Some(done);
            for number in 1..=ITEMS {
                let job: Job = Box::new(|| Box::pin(async {}));
                let signal = if number == ITEMS { done.take() } else { None };
                self.sender.try_send((job, signal)).map_err(|_| "room").expect("room for every item");
            }
            finished.await.expect("the last job ran");
        });
    }
}

fn plain(consumer: Consumer) -> Plain {
    let runtime = runtime();
    let (sender, mut receiver) = mpsc::channel::<(Job, Option<oneshot::Sender<()>>)>(ITEMS);
    let mut services = ServiceCollection::new();
    services.add_scoped::<u64>(|_| Ok(Arc::new(7)));
    let provider = services.build().expect("builds");
    runtime.spawn(async move {
        while let Some((job, signal)) = receiver.recv().await {
            match consumer {
                Consumer::Direct => job().await,
                Consumer::DirectScope => {
                    let scope = provider.create_scope().expect("a scope");
                    let services = scope.provider().get::<ServiceProvider>().expect("its provider");
                    job().await;
                    drop(services);
                    scope.dispose().await.expect("disposed");
                }
                Consumer::TaskPerItem => tokio::spawn(job()).await.expect("no panic"),
                Consumer::TaskAndScope => {
                    let provider = Arc::clone(&provider);
                    tokio::spawn(async move {
                        let scope = provider.create_scope().expect("a scope");
                        let services = scope.provider().get::<ServiceProvider>().expect("its provider");
                        job().await;
                        drop(services);
                        scope.dispose().await.expect("disposed");
                    })
                    .await
                    .expect("no panic");
                }
            }
            if let Some(signal) = signal {
                let _ = signal.send(());
            }
        }
    });
    let plain = Plain { runtime, sender };
    plain.round();
    plain
}

#[library_benchmark]
#[bench::items_100(args = (Consumer::Direct), setup = plain)]
fn mpsc_direct(plain: Plain) {
    plain.round();
    std::mem::forget(black_box(plain));
}

#[library_benchmark]
#[bench::items_100(args = (Consumer::DirectScope), setup = plain)]
fn mpsc_direct_scope(plain: Plain) {
    plain.round();
    std::mem::forget(black_box(plain));
}

#[library_benchmark]
#[bench::items_100(args = (Consumer::TaskPerItem), setup = plain)]
fn mpsc_task_per_item(plain: Plain) {
    plain.round();
    std::mem::forget(black_box(plain));
}

#[library_benchmark]
#[bench::items_100(args = (Consumer::TaskAndScope), setup = plain)]
fn mpsc_task_and_scope(plain: Plain) {
    plain.round();
    std::mem::forget(black_box(plain));
}

library_benchmark_group!(
    name = queue;
    benchmarks = queued_work, mpsc_direct, mpsc_direct_scope, mpsc_task_per_item, mpsc_task_and_scope
);

main!(library_benchmark_groups = queue);
