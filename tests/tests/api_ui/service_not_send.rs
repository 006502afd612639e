// Services are shared between threads: a service type must be `Send + Sync`.
use std::rc::Rc;
use std::sync::Arc;
use di_core::ServiceCollection;

fn main() {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Rc<u8>>(|_| Ok(Arc::new(Rc::new(1))));
}
