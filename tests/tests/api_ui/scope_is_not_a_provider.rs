// A `Scope` is not a `ServiceProvider` (no `Deref`): resolve through `scope.provider()`.
use std::sync::Arc;
use di_core::ServiceCollection;

fn main() {
    let mut services = ServiceCollection::new();
    services.add_scoped::<u8>(|_| Ok(Arc::new(1)));
    let provider = services.build().unwrap();
    let scope = provider.create_scope().unwrap();
    let _ = scope.get::<u8>();
}
