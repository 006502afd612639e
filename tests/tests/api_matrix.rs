//! The registration matrix: every lifetime × every source × unkeyed, keyed or `AnyKey` ×
//! every way of adding (add, try-add, try-add-enumerable, replace, remove) is expressible with
//! the public API, and each combination registers and resolves once (or is rejected by `build()`
//! with the documented error, for an instance that is not a singleton).

use std::sync::Arc;
use std::time::Duration;

use di_core::{
    AnyKey, BoxError, FromProvider, Lifetime, Provides, ResolveError, Resolver, ServiceCollection, Source,
    ValidationError,
};

trait Greet: Send + Sync {
    fn hello(&self) -> String;
}

struct English;

impl Greet for English {
    fn hello(&self) -> String {
        "hello".to_owned()
    }
}

impl FromProvider for English {
    fn from_provider(_: &Resolver<'_>) -> Result<Self, BoxError> {
        Ok(Self)
    }
}

impl Provides<dyn Greet> for English {
    fn provide(self: Arc<Self>) -> Arc<dyn Greet> {
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Src {
    Closure,
    AsyncClosure,
    Injected,
    Mapped,
    Instance,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Keying {
    Unkeyed,
    Keyed,
    /// Registered under `AnyKey`, resolved with a key that has no registration of its own.
    Fallback,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Add,
    TryAdd,
    TryAddEnumerable,
    Replace,
    Remove,
}

const LIFETIMES: [Lifetime; 3] = [Lifetime::Singleton, Lifetime::Scoped, Lifetime::Transient];
const SOURCES: [Src; 5] = [Src::Closure, Src::AsyncClosure, Src::Injected, Src::Mapped, Src::Instance];
const KEYINGS: [Keying; 3] = [Keying::Unkeyed, Keying::Keyed, Keying::Fallback];
const MODES: [Mode; 5] = [Mode::Add, Mode::TryAdd, Mode::TryAddEnumerable, Mode::Replace, Mode::Remove];

fn greeter_source(src: Src) -> Source<dyn Greet> {
    match src {
        Src::Closure => Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(English) as Arc<dyn Greet>)),
        Src::AsyncClosure => {
            Source::from_async_fn(|_| async { Ok::<_, di_core::BoxError>(Arc::new(English) as Arc<dyn Greet>) })
        }
        Src::Mapped => Source::implemented_by::<English>(),
        Src::Instance => Source::instance(Arc::new(English) as Arc<dyn Greet>),
        Src::Injected => unreachable!("constructor injection registers the concrete type"),
    }
}

/// Registers one source the way `mode` says, under the keying; returns whether it was added.
fn register<T: ?Sized + Send + Sync + 'static>(
    services: &mut ServiceCollection,
    keying: Keying,
    lifetime: Lifetime,
    mode: Mode,
    source: Source<T>,
) -> bool {
    match keying {
        Keying::Unkeyed => match mode {
            Mode::Add | Mode::Remove => {
                services.add(lifetime, source);
                true
            }
            Mode::TryAdd => services.try_add(lifetime, source).is_some(),
            Mode::TryAddEnumerable => services.try_add_enumerable(lifetime, source).is_some(),
            Mode::Replace => {
                services.replace(lifetime, source);
                true
            }
        },
        Keying::Keyed | Keying::Fallback => {
            if keying == Keying::Keyed {
                // Another service under the same key: keys are per service type.
                services.keyed("k").add(Lifetime::Singleton, Source::<u8>::instance(0));
            }
            macro_rules! with_key {
                ($key:expr) => {
                    match mode {
                        Mode::Add | Mode::Remove => {
                            services.keyed($key).add(lifetime, source);
                            true
                        }
                        Mode::TryAdd => services.keyed($key).try_add(lifetime, source).is_some(),
                        Mode::TryAddEnumerable => services.keyed($key).try_add_enumerable(lifetime, source).is_some(),
                        Mode::Replace => {
                            services.keyed($key).replace(lifetime, source);
                            true
                        }
                    }
                };
            }
            if keying == Keying::Keyed { with_key!("k") } else { with_key!(AnyKey) }
        }
    }
}

fn remove<T: ?Sized + 'static>(services: &mut ServiceCollection, keying: Keying) -> usize {
    match keying {
        Keying::Unkeyed => services.remove::<T>(),
        Keying::Keyed => services.keyed("k").remove::<T>(),
        Keying::Fallback => services.keyed(AnyKey).remove::<T>(),
    }
}

/// One combination: register, check the mode's effect, build, resolve in a scope.
async fn case<T: ?Sized + Greet + 'static>(
    lifetime: Lifetime,
    src: Src,
    keying: Keying,
    mode: Mode,
    source: impl Fn() -> Source<T>,
) {
    let what = format!("{lifetime:?} {src:?} {keying:?} {mode:?}");
    let mut services = ServiceCollection::new();
    assert!(register(&mut services, keying, lifetime, mode, source()), "{what}: not added to an empty collection");
    match mode {
        Mode::TryAdd => assert!(!register(&mut services, keying, lifetime, mode, source()), "{what}: added twice"),
        Mode::TryAddEnumerable => {
            // The same implementation (type, value type, or the same closure) is not added again.
            assert!(!register(&mut services, keying, lifetime, mode, source()), "{what}: added twice");
        }
        Mode::Replace => {
            assert!(register(&mut services, keying, lifetime, mode, source()), "{what}: not replaced");
            let count = services.iter().filter(|s| s.is::<T>()).count();
            assert_eq!(count, 1, "{what}: replace kept the old registration");
        }
        Mode::Remove => {
            assert_eq!(remove::<T>(&mut services, keying), 1, "{what}: remove");
            assert!(!services.iter().any(|s| s.is::<T>()), "{what}: still listed after remove");
        }
        _ => {}
    }

    // An instance is shared: any other lifetime is rejected by `build()` (unless it was removed).
    let rejected = src == Src::Instance && lifetime != Lifetime::Singleton && mode != Mode::Remove;
    let provider = match services.build() {
        Ok(provider) => provider,
        Err(err) => {
            assert!(rejected, "{what}: {err}");
            assert!(matches!(err.problems(), [ValidationError::InstanceNotSingleton { .. }]), "{what}: {err}");
            return;
        }
    };
    assert!(!rejected, "{what}: built");

    let scope = provider.create_scope().expect("live provider");
    let sp = scope.provider();
    let resolved: Result<Arc<T>, ResolveError> = match keying {
        Keying::Unkeyed => sp.get_async::<T>().await,
        Keying::Keyed => sp.keyed(&"k").get_async::<T>().await,
        Keying::Fallback => sp.keyed(&"any-other-key").get_async::<T>().await,
    };
    if mode == Mode::Remove {
        assert!(resolved.is_err_and(|e| e.is_not_registered()), "{what}: resolved after remove");
        return;
    }
    let greeter = resolved.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(greeter.hello(), "hello", "{what}");
    scope.dispose().await.expect("no hooks to fail");
}

#[tokio::test]
async fn every_combination_registers_and_resolves_once() {
    let all = async {
        let mut cases = 0;
        for lifetime in LIFETIMES {
            for src in SOURCES {
                for keying in KEYINGS {
                    for mode in MODES {
                        if src == Src::Injected {
                            case::<English>(lifetime, src, keying, mode, Source::<English>::injected).await;
                        } else {
                            case::<dyn Greet>(lifetime, src, keying, mode, || greeter_source(src)).await;
                        }
                        cases += 1;
                    }
                }
            }
        }
        cases
    };
    let cases = tokio::time::timeout(Duration::from_secs(30), all).await.expect("the matrix does not hang");
    assert_eq!(cases, 3 * 5 * 3 * 5);
}
