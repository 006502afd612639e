//! What both benches resolve: the services under test and a provider of a given size.

use std::sync::Arc;

use di_core::{Lifetime, ServiceCollection, ServiceProvider, Source};

pub(crate) struct Config {
    pub(crate) retries: u32,
}
/// What `Config` is also registered as (`also_as`): a trait object, resolved through an alias.
pub(crate) trait Settings: Send + Sync {
    fn retries(&self) -> u32;
}
impl Settings for Config {
    fn retries(&self) -> u32 {
        self.retries
    }
}
pub(crate) struct Repo {
    pub(crate) config: Arc<Config>,
}
pub(crate) struct RequestContext {
    pub(crate) id: u64,
}

/// A distinct service type per `N`, to grow the type index as well as the slot table.
struct Filler<const N: usize>;

macro_rules! fill_units {
    ($s:ident, $h:literal, $t:literal; $($u:literal)*) => {
        $( $s.add(Lifetime::Singleton, Source::instance(Filler::<{ $h * 100 + $t * 10 + $u }>)); )*
    };
}
macro_rules! fill_tens {
    ($s:ident, $h:literal; $($t:literal)*) => {
        $( fill_units!($s, $h, $t; 0 1 2 3 4 5 6 7 8 9); )*
    };
}
macro_rules! fill_hundreds {
    ($s:ident; $($h:literal)*) => {
        $( fill_tens!($s, $h; 0 1 2 3 4 5 6 7 8 9); )*
    };
}

/// A provider with `total` registrations: the services under test, then filler. With 10,000,
/// the filler is 1,000 distinct unkeyed types plus keyed registrations.
pub(crate) fn provider(total: usize) -> Arc<ServiceProvider> {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Config>(|_| Ok(Arc::new(Config { retries: 3 }))).also_as::<dyn Settings>(|c| c);
    services.add_transient::<Repo>(|sp| Ok(Arc::new(Repo { config: sp.get()? })));
    services.add_scoped::<RequestContext>(|_| Ok(Arc::new(RequestContext { id: 7 })));
    if total > 1_000 {
        fill_hundreds!(services; 0 1 2 3 4 5 6 7 8 9);
    }
    let mut key = 0u64;
    while services.len() < total {
        services.keyed(key).add(Lifetime::Singleton, Source::instance(key));
        key += 1;
    }
    let provider = services.build().expect("valid collection");
    provider.get::<Config>().expect("warm the singleton");
    provider
}
