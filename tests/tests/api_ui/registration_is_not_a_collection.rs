// A `Registration` configures one registration; it does not deref to the collection, so
// registrations are separate statements.
use std::sync::Arc;
use di_core::ServiceCollection;

fn main() {
    let mut services = ServiceCollection::new();
    services.add_singleton::<u8>(|_| Ok(Arc::new(1))).add_singleton::<u16>(|_| Ok(Arc::new(2)));
}
