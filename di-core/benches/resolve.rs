//! Resolution hot paths, each next to the baseline it is judged against, measured in the same run.
//!
//! Goals (from the container issue): a cached singleton resolve within 1.5x of a plain
//! `HashMap<TypeId, Arc<dyn Any>>` lookup-and-clone; `create_scope()` plus one scoped resolve
//! under 150 ns, and the same at 10 and 10,000 registrations.
//!
//! Run with `cargo bench -p di-core --bench resolve`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_main};
use support::{Config, Repo, RequestContext, Settings, provider};

mod support;

fn baseline(c: &mut Criterion) {
    let mut group = c.benchmark_group("baseline");
    for total in [10usize, 10_000] {
        let mut map: HashMap<TypeId, Arc<dyn Any + Send + Sync>> = HashMap::new();
        map.insert(TypeId::of::<Config>(), Arc::new(Config { retries: 3 }));
        for i in 0..total as u64 {
            map.insert(TypeId::of::<u64>(), Arc::new(i)); // one extra key is enough: SipHash cost is per lookup
        }
        group.bench_with_input(BenchmarkId::new("hashmap_typeid_get_clone", total), &map, |b, map| {
            b.iter(|| black_box(map.get(&TypeId::of::<Config>()).cloned()));
        });
    }
    group.finish();
}

fn resolve(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolve");
    for total in [10usize, 10_000] {
        let provider = provider(total);
        group.bench_with_input(BenchmarkId::new("singleton_cached", total), &provider, |b, p| {
            b.iter(|| black_box(p.get::<Config>().map(|c| c.retries)));
        });
        group.bench_with_input(BenchmarkId::new("alias_cached", total), &provider, |b, p| {
            b.iter(|| black_box(p.get::<dyn Settings>().map(|s| s.retries())));
        });
        group.bench_with_input(BenchmarkId::new("transient_one_dependency", total), &provider, |b, p| {
            b.iter(|| black_box(p.get::<Repo>().map(|r| r.config.retries)));
        });
        group.bench_with_input(BenchmarkId::new("create_scope_only", total), &provider, |b, p| {
            b.iter(|| black_box(p.create_scope().expect("live provider")));
        });
        let scope = provider.create_scope().expect("live provider");
        scope.provider().get::<RequestContext>().expect("created");
        group.bench_with_input(BenchmarkId::new("scoped_cached", total), &scope, |b, s| {
            b.iter(|| black_box(s.provider().get::<RequestContext>().map(|r| r.id)));
        });
        // The goal's measure: creating the scope and resolving one scoped service. The scope is
        // returned, so its teardown (disposal, freeing) happens outside the timed routine...
        group.bench_with_input(BenchmarkId::new("create_scope_and_scoped_resolve", total), &provider, |b, p| {
            b.iter_with_large_drop(|| {
                let scope = p.create_scope().expect("live provider");
                black_box(scope.provider().get::<RequestContext>().map(|r| r.id)).ok();
                scope
            });
        });
        // ...and the whole unit of work, teardown included.
        group.bench_with_input(BenchmarkId::new("scope_unit_of_work_with_teardown", total), &provider, |b, p| {
            b.iter(|| {
                let scope = p.create_scope().expect("live provider");
                black_box(scope.provider().get::<RequestContext>().map(|r| r.id))
            });
        });
    }
    group.finish();
}

// criterion's macro generates an undocumented `pub fn benches`; a private module keeps it internal.
mod group {
    criterion::criterion_group!(benches, super::baseline, super::resolve);
}
use group::benches;
criterion_main!(benches);
