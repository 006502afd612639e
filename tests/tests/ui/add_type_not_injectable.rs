//! Constructor injection of a type that is neither derived nor implements `FromProvider`.
use di_core::{Lifetime, ServiceCollection, Source};

struct Settings;

fn main() {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::<Settings>::injected());
}
