// `implemented_by::<I>()` needs `I: Provides<T>` (derive: `#[injectable(provides(dyn T))]`).
use di_core::{BoxError, FromProvider, Lifetime, Resolver, ServiceCollection, Source};

trait Clock: Send + Sync {}
struct Fixed;
impl Clock for Fixed {}
impl FromProvider for Fixed {
    fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> {
        Ok(Fixed)
    }
}

fn main() {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::<dyn Clock>::implemented_by::<Fixed>());
}
