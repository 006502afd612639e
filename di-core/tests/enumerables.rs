//! `resolve::<Vec<Arc<T>>>()`: every registration in registration order, each with its own cache
//! slot, the last one being what a single resolve returns (reference §1.0-5, §1.1 rows 39-40,
//! §1.2 row 63, §1.4).

use std::sync::Arc;

use di_core::{Lifetime, ProviderOptions, ResolveError, ServiceCollection, ServiceProvider, Source};

type TestResult = Result<(), Box<dyn std::error::Error>>;

trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
}

struct Named(&'static str);
impl Plugin for Named {
    fn name(&self) -> &'static str {
        self.0
    }
}

fn named(lifetime: Lifetime, name: &'static str, services: &mut ServiceCollection) {
    services.add::<dyn Plugin>(
        lifetime,
        Source::from_fn(move |_| Ok::<_, di_core::BoxError>(Arc::new(Named(name)) as Arc<dyn Plugin>)),
    );
}

fn names(provider: &ServiceProvider) -> Result<Vec<&'static str>, ResolveError> {
    Ok(provider.resolve::<Vec<Arc<dyn Plugin>>>()?.iter().map(|p| p.name()).collect())
}

// Row 84.
#[test]
fn single_registration_is_a_one_item_list() -> TestResult {
    let mut services = ServiceCollection::new();
    named(Lifetime::Transient, "only", &mut services);
    assert_eq!(names(&*services.build()?)?, ["only"]);
    Ok(())
}

// Rows 85, 86.
#[test]
fn get_all_follows_registration_order() -> TestResult {
    let order = ["a", "b", "c", "d"];
    let mut forward = ServiceCollection::new();
    let mut backward = ServiceCollection::new();
    for (i, name) in order.iter().enumerate() {
        let lifetime = [Lifetime::Singleton, Lifetime::Transient][i % 2];
        named(lifetime, name, &mut forward);
    }
    for name in order.iter().rev() {
        named(Lifetime::Singleton, name, &mut backward);
    }
    assert_eq!(names(&*forward.build()?)?, order, "registration order");
    assert_eq!(names(&*backward.build()?)?, ["d", "c", "b", "a"], "reversing the registrations reverses the list");
    Ok(())
}

// Row 87.
#[test]
fn factories_and_instances_mix_in_registration_order() -> TestResult {
    let instance: Arc<dyn Plugin> = Arc::new(Named("instance"));
    let mut services = ServiceCollection::new();
    named(Lifetime::Transient, "factory", &mut services);
    services.add(Lifetime::Singleton, Source::<dyn Plugin>::instance(instance.clone()));
    named(Lifetime::Singleton, "last", &mut services);
    let provider = services.build()?;
    let all = provider.resolve::<Vec<Arc<dyn Plugin>>>()?;
    assert_eq!(all.iter().map(|p| p.name()).collect::<Vec<_>>(), ["factory", "instance", "last"]);
    assert!(Arc::ptr_eq(&all[1], &instance), "the instance is served as registered");
    Ok(())
}

// Rows 5, 63 (singleton and scoped rows), 40.
#[test]
fn identical_registrations_are_distinct_instances_and_the_last_is_the_single_resolve() -> TestResult {
    for lifetime in [Lifetime::Singleton, Lifetime::Scoped] {
        let mut services = ServiceCollection::new();
        for _ in 0..3 {
            named(lifetime, "same", &mut services);
        }
        let provider = services.build()?;
        let scope = provider.create_scope()?;
        let all = scope.provider().resolve::<Vec<Arc<dyn Plugin>>>()?;
        assert_eq!(all.len(), 3, "{lifetime}: three registrations, three items");
        assert!(!Arc::ptr_eq(&all[0], &all[1]) && !Arc::ptr_eq(&all[1], &all[2]), "{lifetime}: distinct");
        assert!(
            Arc::ptr_eq(&all[2], &scope.provider().get::<dyn Plugin>()?),
            "{lifetime}: the last is the single resolve"
        );
        let again = scope.provider().resolve::<Vec<Arc<dyn Plugin>>>()?;
        for (first, second) in all.iter().zip(&again) {
            assert!(Arc::ptr_eq(first, second), "{lifetime}: each registration keeps its own cached instance");
        }
    }
    Ok(())
}

#[test]
fn transient_registrations_in_a_list_are_new_on_every_call() -> TestResult {
    let mut services = ServiceCollection::new();
    named(Lifetime::Transient, "t", &mut services);
    let provider = services.build()?;
    let (a, b) = (provider.resolve::<Vec<Arc<dyn Plugin>>>()?, provider.resolve::<Vec<Arc<dyn Plugin>>>()?);
    assert!(!Arc::ptr_eq(&a[0], &b[0]), "a transient item is created for each list");
    Ok(())
}

// Rows 88, 119.
#[test]
fn list_with_a_scoped_item_is_refused_from_the_root_but_a_transient_list_is_not() -> TestResult {
    let mut services = ServiceCollection::new();
    named(Lifetime::Transient, "t1", &mut services);
    named(Lifetime::Scoped, "scoped", &mut services);
    services.add_transient::<u32>(|_| Ok(Arc::new(1)));
    services.add_transient::<u32>(|_| Ok(Arc::new(2)));
    let provider = services.build()?;
    assert!(
        matches!(provider.resolve::<Vec<Arc<dyn Plugin>>>(), Err(ResolveError::ScopedFromRoot { .. })),
        "a scoped item cannot come from the root"
    );
    let numbers: Vec<u32> = provider.resolve::<Vec<Arc<u32>>>()?.iter().map(|v| **v).collect();
    assert_eq!(numbers, [1, 2], "an all-transient list works, in order");
    assert_eq!(names(provider.create_scope()?.provider())?, ["t1", "scoped"], "from a scope the mixed list works");
    Ok(())
}

// Row 39.
#[test]
fn wide_trees_of_scoped_lists_resolve() -> TestResult {
    struct Leaf;
    struct Branch(Vec<Arc<Leaf>>);
    struct Trunk(Vec<Arc<Branch>>);
    let mut services = ServiceCollection::new();
    for _ in 0..20 {
        services.add_scoped::<Leaf>(|_| Ok(Arc::new(Leaf)));
        services.add_scoped::<Branch>(|sp| Ok(Arc::new(Branch(sp.resolve()?))));
        services.add_scoped::<Trunk>(|sp| Ok(Arc::new(Trunk(sp.resolve()?))));
    }
    let provider = services.build()?;
    for _ in 0..3 {
        let scope = provider.create_scope()?;
        let trunks = scope.provider().resolve::<Vec<Arc<Trunk>>>()?;
        assert_eq!(trunks.len(), 20);
        assert!(trunks.iter().all(|t| t.0.len() == 20 && t.0.iter().all(|b| b.0.len() == 20)), "20 x 20 x 20");
        assert!(Arc::ptr_eq(&trunks[0].0[0], &trunks[19].0[0]), "scoped branches are shared within the scope");
    }
    Ok(())
}

#[test]
fn scoped_from_the_root_is_allowed_in_lists_without_scope_validation() -> TestResult {
    let mut services = ServiceCollection::new();
    named(Lifetime::Scoped, "scoped", &mut services);
    let provider = services.build_with(ProviderOptions::default().validate_scopes(false))?;
    let (a, b) = (provider.resolve::<Vec<Arc<dyn Plugin>>>()?, provider.resolve::<Vec<Arc<dyn Plugin>>>()?);
    assert!(Arc::ptr_eq(&a[0], &b[0]), "the root caches it like a scope would");
    Ok(())
}
