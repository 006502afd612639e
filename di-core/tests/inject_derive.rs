//! `#[derive(Injectable)]`: every field kind, keyed and default fields, tuple, unit and generic
//! structs, the declared dependency list, and one-line registration as a trait with `add_*_as`.
#![cfg(feature = "derive")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use di_core::{
    Dependencies, FromProvider, Injectable, Lifetime, ProviderOptions, ResolveError, ServiceCollection,
    ServiceProvider, Source, ValidationError,
};

struct Config(u32);
struct Metrics;
#[derive(Debug)]
struct Missing;

trait Check: Send + Sync {
    fn name(&self) -> &'static str;
}
struct Disk;
impl Check for Disk {
    fn name(&self) -> &'static str {
        "disk"
    }
}
struct Net;
impl Check for Net {
    fn name(&self) -> &'static str {
        "net"
    }
}

#[derive(Default)]
struct Counter(AtomicU64);

#[derive(Injectable)]
struct Everything {
    config: Arc<Config>,
    primary: Arc<dyn Check>,
    metrics: Option<Arc<Metrics>>,
    missing: Option<Arc<Missing>>,
    checks: Vec<Arc<dyn Check>>,
    no_checks: Vec<Arc<Missing>>,
    provider: Arc<ServiceProvider>,
    #[inject(key = "cold")]
    cold: Arc<Config>,
    #[inject(key = 2u32)]
    maybe_keyed: Option<Arc<Config>>,
    #[inject(key = "cold")]
    all_cold: Vec<Arc<Config>>,
    #[inject(default)]
    counter: Counter,
}

fn everything_services() -> ServiceCollection {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(Config(1)));
    services.keyed("cold").add(Lifetime::Singleton, Source::instance(Config(2)));
    services.keyed("cold").add(Lifetime::Singleton, Source::instance(Config(3)));
    services.add_singleton::<dyn Check>(|_| Ok(Arc::new(Disk)));
    services.add_singleton::<dyn Check>(|_| Ok(Arc::new(Net)));
    services.add_scoped::<Metrics>(|_| Ok(Arc::new(Metrics)));
    services.add(Lifetime::Scoped, Source::<Everything>::injected());
    services
}

#[test]
fn every_field_kind_is_filled() -> Result<(), Box<dyn std::error::Error>> {
    let provider = everything_services().build()?;
    let scope = provider.create_scope()?;
    let e = scope.provider().get::<Everything>()?;
    assert_eq!(e.config.0, 1, "Arc<T>");
    assert_eq!(e.primary.name(), "net", "Arc<dyn Trait> is the last registration");
    assert!(e.metrics.is_some(), "Option<Arc<T>> when registered");
    assert!(e.missing.is_none(), "Option<Arc<T>> when not registered");
    assert_eq!(e.checks.iter().map(|c| c.name()).collect::<Vec<_>>(), ["disk", "net"], "Vec<Arc<T>> in order");
    assert!(e.no_checks.is_empty(), "Vec<Arc<T>> of nothing");
    assert_eq!(e.cold.0, 3, "keyed Arc<T> is the last registration under the key");
    assert!(e.maybe_keyed.is_none(), "keyed Option<Arc<T>> when the key has no registration");
    assert_eq!(e.all_cold.iter().map(|c| c.0).collect::<Vec<_>>(), [2, 3], "keyed Vec<Arc<T>>");
    assert_eq!(e.counter.0.load(Ordering::SeqCst), 0, "#[inject(default)]");
    assert!(
        Arc::ptr_eq(&e.provider.get::<Metrics>()?, &scope.provider().get::<Metrics>()?),
        "Arc<ServiceProvider> is the resolving scope"
    );
    Ok(())
}

#[test]
fn declared_dependencies_cover_every_injected_field() {
    let mut deps = Dependencies::default();
    Everything::dependencies(&mut deps);
    assert_eq!(deps.len(), 10, "every field but the default one");
}

#[derive(Injectable)]
struct Pair(Arc<Config>, #[inject(default)] u8);

#[derive(Injectable)]
struct Unit;

#[derive(Injectable)]
struct Holder<T: Send + Sync + 'static> {
    inner: Arc<T>,
}

#[test]
fn tuple_unit_and_generic_structs() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(Config(9)));
    services.add(Lifetime::Transient, Source::<Pair>::injected());
    services.add(Lifetime::Singleton, Source::<Unit>::injected());
    services.add(Lifetime::Singleton, Source::<Holder<Config>>::injected());
    let provider = services.build()?;
    let pair = provider.get::<Pair>()?;
    assert_eq!((pair.0.0, pair.1), (9, 0));
    provider.get::<Unit>()?;
    assert_eq!(provider.get::<Holder<Config>>()?.inner.0, 9);
    Ok(())
}

#[derive(Injectable, Debug)]
struct NeedsMissing {
    _missing: Arc<Missing>,
}

#[test]
fn build_validates_what_the_derive_declares() {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Transient, Source::<NeedsMissing>::injected());
    let err = services.build().expect_err("`Missing` is not registered");
    assert_eq!(
        err.problems().iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["no service registered for `inject_derive::Missing` (required by `inject_derive::NeedsMissing`); \
          register it with `services.add_transient` before `build()`"]
    );
}

#[test]
fn resolve_errors_pass_through_the_generated_constructor() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Transient, Source::<NeedsMissing>::injected());
    let provider = services.build_with(ProviderOptions::default().validate_on_build(false))?;
    let err = provider.get::<NeedsMissing>().expect_err("`Missing` is not registered");
    assert!(matches!(err, ResolveError::NotRegistered { .. }), "the nested error is passed on: {err:?}");
    assert_eq!(
        err.to_string(),
        "no service registered for `inject_derive::Missing` (required by `inject_derive::NeedsMissing`); \
         register it on the `ServiceCollection` before `build()`"
    );
    Ok(())
}

#[derive(Injectable)]
struct Cache {
    _metrics: Arc<Metrics>,
}

#[test]
fn captive_through_the_derive_is_found_at_build() {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Metrics>(|_| Ok(Arc::new(Metrics)));
    services.add(Lifetime::Singleton, Source::<Cache>::injected());
    let err = services.build().expect_err("a singleton `Cache` captures the scoped `Metrics`");
    assert!(matches!(err.problems(), [ValidationError::CapturedScoped { .. }]), "got {err}");
}

// ===== add_*_as =====

trait EmployeeDb: Send + Sync {
    fn lookup(&self, id: u32) -> String;
}
trait Health: Send + Sync {
    fn healthy(&self) -> bool;
}

#[derive(Injectable)]
#[injectable(provides(dyn EmployeeDb, dyn Health))]
struct SqliteEmployeeDb {
    config: Arc<Config>,
}

impl EmployeeDb for SqliteEmployeeDb {
    fn lookup(&self, id: u32) -> String {
        format!("{id}@{}", self.config.0)
    }
}
impl Health for SqliteEmployeeDb {
    fn healthy(&self) -> bool {
        true
    }
}

#[test]
fn add_scoped_as_registers_an_implementation_as_a_trait() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(Config(4)));
    services.add(Lifetime::Scoped, Source::<dyn EmployeeDb>::implemented_by::<SqliteEmployeeDb>());
    services.add(Lifetime::Singleton, Source::<dyn Health>::implemented_by::<SqliteEmployeeDb>());
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    let db = scope.provider().get::<dyn EmployeeDb>()?;
    assert_eq!(db.lookup(7), "7@4");
    assert!(Arc::ptr_eq(&db, &scope.provider().get::<dyn EmployeeDb>()?), "scoped: one per scope");
    assert!(provider.get::<dyn Health>()?.healthy());
    Ok(())
}

#[test]
fn add_as_also_registers_a_type_as_itself_and_under_a_key() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(Config(5)));
    services.add(Lifetime::Transient, Source::<SqliteEmployeeDb>::implemented_by::<SqliteEmployeeDb>());
    services.keyed("replica").add(Lifetime::Singleton, Source::<dyn EmployeeDb>::implemented_by::<SqliteEmployeeDb>());
    services.add(Lifetime::Transient, Source::<dyn Health>::implemented_by::<SqliteEmployeeDb>());
    let provider = services.build()?;
    assert_eq!(provider.get::<SqliteEmployeeDb>()?.config.0, 5);
    assert_eq!(provider.keyed(&"replica").get::<dyn EmployeeDb>()?.lookup(1), "1@5");
    assert!(provider.get::<dyn EmployeeDb>().is_err(), "the keyed registration is not the unkeyed one");
    assert!(provider.get::<dyn Health>()?.healthy());
    Ok(())
}

#[test]
fn add_as_declares_the_implementation_dependencies() {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Scoped, Source::<dyn EmployeeDb>::implemented_by::<SqliteEmployeeDb>());
    let err = services.build().expect_err("`Config` is missing");
    assert_eq!(
        err.problems().iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["no service registered for `inject_derive::Config` (required by `inject_derive::SqliteEmployeeDb`); \
          register it with `services.add_scoped` before `build()`"]
    );
}

mod renamed {
    pub(crate) use di_core as container;
}

#[derive(Injectable)]
#[injectable(crate = renamed::container)]
struct ThroughRenamedCrate {
    _config: Arc<Config>,
}

#[test]
fn crate_option_names_a_re_exported_di_core() -> Result<(), Box<dyn std::error::Error>> {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::instance(Config(0)));
    services.add(Lifetime::Singleton, Source::<ThroughRenamedCrate>::injected());
    let provider = services.build()?;
    provider.get::<ThroughRenamedCrate>()?;
    Ok(())
}
