#![allow(missing_docs, reason = "gungraun's macros generate undocumented items")]
//! Instruction counts per operation (callgrind, through gungraun): stable on shared machines,
//! where timings are not. Each container case sits next to the hand-written code it is judged
//! against, measured in the same run. Setup (building the provider, warming caches and the
//! allocator) is excluded; each benchmark function is one operation.
//!
//! Run with `cargo bench -p di-core --bench instructions` (needs valgrind and
//! `cargo install gungraun-runner --version 0.20.0`).

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use di_core::ServiceProvider;
use gungraun::{library_benchmark, library_benchmark_group, main};
use support::{Config, Repo, RequestContext, Settings};

mod support;

/// The shared provider of `total` registrations, with every path below run once.
fn provider(total: usize) -> Arc<ServiceProvider> {
    let provider = support::provider(total);
    // Warm up: the singleton is created, and every path below has run once.
    provider.get::<Config>().expect("singleton");
    provider.get::<dyn Settings>().expect("alias");
    provider.get::<Repo>().expect("transient");
    let scope = provider.create_scope().expect("scope");
    scope.provider().get::<RequestContext>().expect("scoped");
    drop(scope);
    provider
}

#[library_benchmark]
#[bench::registrations_10(args = (10), setup = provider)]
#[bench::registrations_10000(args = (10_000), setup = provider)]
fn singleton_cached(provider: Arc<ServiceProvider>) -> u32 {
    let retries = provider.get::<Config>().map_or(0, |c| c.retries);
    keep(provider);
    black_box(retries)
}

// `Config` again, as the trait object it is also registered as (`also_as`).
#[library_benchmark]
#[bench::registrations_10(args = (10), setup = provider)]
#[bench::registrations_10000(args = (10_000), setup = provider)]
fn alias_cached(provider: Arc<ServiceProvider>) -> u32 {
    let retries = provider.get::<dyn Settings>().map_or(0, |s| s.retries());
    keep(provider);
    black_box(retries)
}

#[library_benchmark]
#[bench::registrations_10(args = (10), setup = provider)]
#[bench::registrations_10000(args = (10_000), setup = provider)]
fn transient_one_dependency(provider: Arc<ServiceProvider>) -> u32 {
    let retries = provider.get::<Repo>().map_or(0, |r| r.config.retries);
    keep(provider);
    black_box(retries)
}

#[library_benchmark]
#[bench::registrations_10(args = (10), setup = provider)]
#[bench::registrations_10000(args = (10_000), setup = provider)]
fn scope_resolve_teardown(provider: Arc<ServiceProvider>) -> u64 {
    let scope = provider.create_scope().expect("live provider");
    let id = scope.provider().get::<RequestContext>().map_or(0, |r| r.id);
    drop(black_box(scope));
    keep(provider);
    black_box(id)
}

/// Keeps the set-up value alive past the measured region: its teardown is not the operation.
fn keep<T>(value: T) {
    std::mem::forget(value);
}

fn warm_config() -> Arc<Config> {
    let _warm = provider(10); // the same allocator state as the container cases
    let config = Arc::new(Config { retries: 3 });
    drop(Arc::new(Repo { config: config.clone() }));
    config
}

// Hand-written: clone the `Arc` you keep.
#[library_benchmark]
#[bench::arc_clone(setup = warm_config)]
fn hand_written_singleton(config: Arc<Config>) -> u32 {
    let retries = black_box(black_box(&config).clone()).retries;
    keep(config);
    black_box(retries)
}

// Hand-written: allocate the service around a clone of its dependency.
#[library_benchmark]
#[bench::arc_new(setup = warm_config)]
fn hand_written_transient(config: Arc<Config>) -> u32 {
    let repo = Arc::new(Repo { config: black_box(&config).clone() });
    let retries = black_box(repo).config.retries;
    keep(config);
    black_box(retries)
}

// Hand-written: a shared per-request cache holding one lazily created service, then dropped.
#[library_benchmark]
#[bench::mutex_cache(setup = warm_config)]
fn hand_written_scope(config: Arc<Config>) -> u64 {
    struct Cache {
        context: Mutex<Option<Arc<RequestContext>>>,
    }
    let cache = Arc::new(Cache { context: Mutex::new(None) });
    let context =
        cache.context.lock().expect("unpoisoned").get_or_insert_with(|| Arc::new(RequestContext { id: 7 })).clone();
    drop(black_box(cache));
    let id = context.id + u64::from(config.retries);
    keep(config);
    black_box(id)
}

library_benchmark_group!(
    name = container;
    benchmarks = singleton_cached, alias_cached, transient_one_dependency, scope_resolve_teardown
);
library_benchmark_group!(
    name = hand_written;
    benchmarks = hand_written_singleton, hand_written_transient, hand_written_scope
);

main!(library_benchmark_groups = container, hand_written);
