// `depends_on` declares what the factory resolves, in the same shape as `resolve`.
use std::sync::Arc;
use di_core::ServiceCollection;

struct Db;

fn main() {
    let mut services = ServiceCollection::new();
    services.add_singleton::<u8>(|_| Ok(Arc::new(1))).depends_on::<Db>();
}
