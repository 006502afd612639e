// A factory for `T` returns `Arc<T>`.
use std::sync::Arc;
use di_core::ServiceCollection;

fn main() {
    let mut services = ServiceCollection::new();
    services.add_singleton::<u32>(|_| Ok(Arc::new("not a u32")));
}
