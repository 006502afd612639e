// A key must be `Debug` (messages show it) and `Clone`, besides `Eq + Hash`.
use std::sync::Arc;
use di_core::ServiceCollection;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Region(u8);

fn main() {
    let mut services = ServiceCollection::new();
    services.keyed(Region(1)).add_singleton::<u8>(|_| Ok(Arc::new(1)));
}
