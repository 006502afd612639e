//! A cached resolve allocates nothing: the hot path of every request stays off the allocator.

use std::sync::Arc;

use di_core::ServiceCollection;

struct Config;
struct Region;

#[test]
fn cached_singleton_resolve_does_not_allocate() {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Config>(|_| Ok(Arc::new(Config)));
    let provider = services.build().expect("valid collection");
    provider.get::<Config>().expect("first resolve creates it");
    let info = allocation_counter::measure(|| {
        for _ in 0..1_000 {
            std::hint::black_box(provider.get::<Config>().expect("cached"));
        }
    });
    assert_eq!(info.count_total, 0, "cached singleton resolves allocated {} times", info.count_total);
}

#[test]
fn cached_keyed_singleton_resolve_does_not_allocate() {
    let mut services = ServiceCollection::new();
    services.keyed("eu").add_singleton::<Region>(|_| Ok(Arc::new(Region)));
    let provider = services.build().expect("valid collection");
    provider.keyed(&"eu").get::<Region>().expect("first resolve creates it");
    let info = allocation_counter::measure(|| {
        for _ in 0..1_000 {
            std::hint::black_box(provider.keyed(&"eu").get::<Region>().expect("cached"));
        }
    });
    assert_eq!(info.count_total, 0, "cached keyed resolves allocated {} times", info.count_total);
}

#[test]
fn cached_scoped_resolve_does_not_allocate() {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Config>(|_| Ok(Arc::new(Config)));
    let provider = services.build().expect("valid collection");
    let scope = provider.create_scope().expect("live provider");
    scope.provider().get::<Config>().expect("first resolve creates it");
    let info = allocation_counter::measure(|| {
        for _ in 0..1_000 {
            std::hint::black_box(scope.provider().get::<Config>().expect("cached"));
        }
    });
    assert_eq!(info.count_total, 0, "cached scoped resolves allocated {} times", info.count_total);
}
