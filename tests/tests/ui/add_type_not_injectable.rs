//! Constructor injection of a type that is neither derived nor implements `FromProvider`.
use di_core::ServiceCollection;

struct Settings;

fn main() {
    let mut services = ServiceCollection::new();
    services.add_singleton_type::<Settings>();
}
