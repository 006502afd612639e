//! Build-time validation of declared dependencies: reference section 1.7 (validation, cycles)
//! restated for declared dependencies, plus missing, keyed, diamond, instance and
//! all-problems-at-once cases, with the exact text of every `ValidationError`.

use std::sync::Arc;

use di_core::{
    BuildError, Lifetime, ProviderOptions, Registration, ScopeFactory, ServiceCollection, ServiceProvider, Source,
    ValidationError,
};

#[derive(Default)]
struct A;
#[derive(Default)]
struct B;
#[derive(Default)]
struct C;
#[derive(Default)]
struct D;
#[derive(Default)]
struct Foo;
#[derive(Default)]
struct Bar;
#[derive(Default)]
struct Baz;
#[derive(Default)]
struct G<T>(std::marker::PhantomData<T>);

/// Registers `T` with a factory that declares nothing by itself; the tests declare with `depends_on*`.
fn add<T: Default + Send + Sync + 'static>(
    services: &mut ServiceCollection,
    lifetime: Lifetime,
) -> Registration<'_, T> {
    services.add::<T>(lifetime, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(T::default()))))
}

/// The text of every problem `build()` reports, in order; panics if the build succeeds.
fn problems(services: &ServiceCollection) -> Vec<String> {
    match services.build() {
        Ok(_) => panic!("expected build() to fail, it succeeded"),
        Err(err) => err.problems().iter().map(ToString::to_string).collect(),
    }
}

fn cycle(path: &str, service: &str) -> String {
    format!(
        "dependency cycle detected for `{service}`: {path}; break the cycle, for example by resolving one side later \
         through `Arc<ServiceProvider>`"
    )
}

fn captive(singleton: &str, scoped: &str, path: &str) -> String {
    format!(
        "singleton `{singleton}` captures scoped service `{scoped}` (required by {path}); resolve `{scoped}` from a \
         scope created per unit of work with `create_scope()` (through an `Arc<ServiceProvider>` that `{singleton}` \
         keeps), or make `{singleton}` scoped if it need not be a singleton"
    )
}

const A_: &str = "validation_build::A";
const B_: &str = "validation_build::B";
const C_: &str = "validation_build::C";
const D_: &str = "validation_build::D";
const FOO: &str = "validation_build::Foo";
const BAR: &str = "validation_build::Bar";
const BAZ: &str = "validation_build::Baz";

// ===== captive dependencies (reference rows 111-114, 118, 120) =====

#[test]
fn scoped_injected_into_singleton_is_a_captive_dependency() {
    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Singleton).depends_on::<Arc<Bar>>();
    add::<Bar>(&mut services, Lifetime::Scoped);
    assert_eq!(problems(&services), [captive(FOO, BAR, "`validation_build::Foo`")]);
}

#[test]
fn scoped_through_transient_names_the_singleton_at_the_top() {
    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Singleton).depends_on::<Arc<Baz>>();
    add::<Baz>(&mut services, Lifetime::Transient).depends_on::<Arc<Bar>>();
    add::<Bar>(&mut services, Lifetime::Scoped);
    assert_eq!(problems(&services), [captive(FOO, BAR, "`validation_build::Foo` -> `validation_build::Baz`")]);
}

#[test]
fn scoped_through_singleton_names_the_nearest_singleton_once() {
    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Singleton).depends_on::<Arc<Baz>>();
    add::<Baz>(&mut services, Lifetime::Singleton).depends_on::<Arc<Bar>>();
    add::<Bar>(&mut services, Lifetime::Scoped);
    assert_eq!(
        problems(&services),
        [captive(BAZ, BAR, "`validation_build::Foo` -> `validation_build::Baz`")],
        "one problem, naming `Baz` (the nearest singleton), reported from the first registration that reaches it"
    );
}

#[test]
fn scoped_through_singleton_is_caught_even_when_the_top_is_scoped() {
    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Scoped).depends_on::<Arc<Baz>>();
    add::<Baz>(&mut services, Lifetime::Singleton).depends_on::<Arc<Bar>>();
    add::<Bar>(&mut services, Lifetime::Scoped);
    assert_eq!(problems(&services), [captive(BAZ, BAR, "`validation_build::Foo` -> `validation_build::Baz`")]);
}

#[test]
fn only_the_last_registration_matters_for_a_single_dependency() {
    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Singleton).depends_on::<Arc<Bar>>();
    add::<Bar>(&mut services, Lifetime::Scoped);
    add::<Bar>(&mut services, Lifetime::Transient);
    assert!(services.build().is_ok(), "the last `Bar` is transient: no captive");

    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Singleton).depends_on::<Arc<Bar>>();
    add::<Bar>(&mut services, Lifetime::Transient);
    add::<Bar>(&mut services, Lifetime::Scoped);
    assert_eq!(problems(&services), [captive(FOO, BAR, "`validation_build::Foo`")]);
}

#[test]
fn all_dependency_checks_every_registration() {
    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Singleton).depends_on::<Vec<Arc<Bar>>>();
    add::<Bar>(&mut services, Lifetime::Scoped);
    add::<Bar>(&mut services, Lifetime::Transient);
    assert_eq!(problems(&services), [captive(FOO, BAR, "`validation_build::Foo`")]);
}

#[test]
fn scope_factory_and_provider_are_legal_singleton_dependencies() {
    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Singleton)
        .depends_on::<Arc<ScopeFactory>>()
        .depends_on::<Arc<ServiceProvider>>();
    assert!(services.build().is_ok(), "built-ins are always registered and never scoped");
}

#[test]
fn captive_check_is_off_without_scope_validation() {
    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Singleton).depends_on::<Arc<Bar>>();
    add::<Bar>(&mut services, Lifetime::Scoped);
    assert!(services.build_with(ProviderOptions::default().validate_scopes(false)).is_ok());
}

#[test]
fn scoped_below_scoped_below_singleton_is_reported_once() {
    let mut services = ServiceCollection::new();
    add::<Foo>(&mut services, Lifetime::Singleton).depends_on::<Arc<Bar>>();
    add::<Bar>(&mut services, Lifetime::Scoped).depends_on::<Arc<Baz>>();
    add::<Baz>(&mut services, Lifetime::Scoped);
    assert_eq!(
        problems(&services),
        [captive(FOO, BAR, "`validation_build::Foo`")],
        "the resolver stops at the first scoped service, so does validation"
    );
}

// ===== missing dependencies (rows 121, 123) =====

#[test]
fn missing_dependency_names_the_path_and_the_registration_to_add() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Scoped).depends_on::<Arc<B>>();
    add::<B>(&mut services, Lifetime::Scoped).depends_on::<Arc<C>>();
    let problems = problems(&services);
    assert_eq!(
        problems,
        [
            "no service registered for `validation_build::C` (required by `validation_build::A` -> `validation_build::B`); \
          register it with `services.add_scoped` before `build()`"
        ]
    );
}

#[test]
fn missing_dependency_hint_follows_the_declaring_lifetime() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<D>>();
    add::<B>(&mut services, Lifetime::Transient).depends_on::<Arc<D>>();
    assert_eq!(
        problems(&services),
        [
            "no service registered for `validation_build::D` (required by `validation_build::A`); \
             register it with `services.add_singleton` before `build()`",
            "no service registered for `validation_build::D` (required by `validation_build::B`); \
             register it with `services.add_transient` before `build()`",
        ]
    );
}

#[test]
fn missing_keyed_dependency_names_the_key() {
    let mut services = ServiceCollection::new();
    services.keyed("primary").add_singleton::<B>(|_| Ok(Arc::new(B)));
    add::<A>(&mut services, Lifetime::Scoped).depends_on_keyed::<Arc<B>, _>("replica");
    assert_eq!(
        problems(&services),
        [
            "no service registered for `validation_build::B` with key \"replica\" (&str) (required by `validation_build::A`); \
          register it with `services.keyed(key).add_scoped` before `build()`"
        ]
    );
}

#[test]
fn keyed_dependency_with_a_registration_is_fine_and_joins_the_graph() {
    let mut services = ServiceCollection::new();
    services.keyed(7u32).add_scoped::<B>(|_| Ok(Arc::new(B)));
    add::<A>(&mut services, Lifetime::Singleton).depends_on_keyed::<Arc<B>, _>(7u32);
    assert_eq!(problems(&services), [captive(A_, B_, "`validation_build::A`")], "keyed edges are checked too");
}

#[test]
fn keyed_and_unkeyed_registrations_do_not_satisfy_each_other() {
    let mut services = ServiceCollection::new();
    add::<B>(&mut services, Lifetime::Singleton);
    add::<A>(&mut services, Lifetime::Singleton).depends_on_keyed::<Arc<B>, _>("k");
    services.keyed("k").add_singleton::<C>(|_| Ok(Arc::new(C)));
    add::<D>(&mut services, Lifetime::Singleton).depends_on::<Arc<C>>();
    assert_eq!(problems(&services).len(), 2, "neither dependency is satisfied");
}

#[test]
fn optional_and_all_dependencies_may_be_missing() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Option<Arc<B>>>().depends_on::<Vec<Arc<C>>>();
    assert!(services.build().is_ok());
}

#[test]
fn every_registration_is_validated_not_only_the_last() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<B>>();
    add::<A>(&mut services, Lifetime::Singleton);
    assert_eq!(
        problems(&services),
        ["no service registered for `validation_build::B` (required by `validation_build::A`); \
          register it with `services.add_singleton` before `build()`"]
    );
}

#[test]
fn validate_on_build_off_defers_everything_to_resolve() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<B>>();
    let provider = services.build_with(ProviderOptions::default().validate_on_build(false));
    assert!(provider.is_ok(), "no validation at build");
}

// ===== cycles (rows 125-134) =====

#[test]
fn self_cycle() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Transient).depends_on::<Arc<A>>();
    assert_eq!(problems(&services), [cycle("`validation_build::A` -> `validation_build::A`", A_)]);
}

#[test]
fn self_cycle_reached_through_all() {
    let mut services = ServiceCollection::new();
    add::<B>(&mut services, Lifetime::Singleton).depends_on::<Vec<Arc<A>>>();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<A>>();
    assert_eq!(
        problems(&services),
        [cycle("`validation_build::B` -> `validation_build::A` -> `validation_build::A`", A_)]
    );
}

#[test]
fn generic_self_cycle_uses_type_name() {
    let mut services = ServiceCollection::new();
    add::<G<String>>(&mut services, Lifetime::Singleton).depends_on::<Arc<G<String>>>();
    let g = "validation_build::G<alloc::string::String>";
    assert_eq!(problems(&services), [cycle(&format!("`{g}` -> `{g}`"), g)]);
}

#[test]
fn generic_indirect_self_cycle_reports_the_repeated_type() {
    let mut services = ServiceCollection::new();
    add::<G<i32>>(&mut services, Lifetime::Singleton).depends_on::<Arc<G<String>>>();
    add::<G<String>>(&mut services, Lifetime::Singleton).depends_on::<Arc<G<String>>>();
    let (gi, gs) = ("validation_build::G<i32>", "validation_build::G<alloc::string::String>");
    assert_eq!(problems(&services), [cycle(&format!("`{gi}` -> `{gs}` -> `{gs}`"), gs)]);
}

#[test]
fn instance_registration_breaks_a_would_be_cycle() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<B>>();
    add::<B>(&mut services, Lifetime::Singleton).depends_on::<Arc<A>>();
    services.add(Lifetime::Singleton, Source::instance(B));
    assert!(services.build().is_ok(), "the last `B` is an instance: it depends on nothing");
}

#[test]
fn cycle_through_a_trait_object() {
    trait Face: Send + Sync {}
    struct Impl;
    impl Face for Impl {}
    let mut services = ServiceCollection::new();
    services.add_singleton::<dyn Face>(|_| Ok(Arc::new(Impl))).depends_on::<Arc<dyn Face>>();
    let face = "dyn validation_build::cycle_through_a_trait_object::Face";
    assert_eq!(problems(&services), [cycle(&format!("`{face}` -> `{face}`"), face)]);
}

#[test]
fn direct_cycle_is_reported_once() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<B>>();
    add::<B>(&mut services, Lifetime::Singleton).depends_on::<Arc<A>>();
    assert_eq!(
        problems(&services),
        [cycle("`validation_build::A` -> `validation_build::B` -> `validation_build::A`", A_)],
        "found from A and from B, reported once, from A"
    );
}

#[test]
fn indirect_cycle_with_mixed_lifetimes() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Scoped).depends_on::<Arc<B>>();
    add::<B>(&mut services, Lifetime::Transient).depends_on::<Arc<C>>();
    add::<C>(&mut services, Lifetime::Scoped).depends_on::<Arc<A>>();
    assert_eq!(
        problems(&services),
        [cycle("`validation_build::A` -> `validation_build::B` -> `validation_build::C` -> `validation_build::A`", A_)]
    );
}

#[test]
fn diamond_is_not_a_cycle() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<B>>().depends_on::<Arc<C>>();
    add::<B>(&mut services, Lifetime::Singleton).depends_on::<Arc<D>>();
    add::<C>(&mut services, Lifetime::Transient).depends_on::<Arc<D>>();
    add::<D>(&mut services, Lifetime::Singleton);
    assert!(services.build().is_ok());
}

#[test]
fn dependency_on_a_cycle_starts_at_the_outer_requester() {
    let mut services = ServiceCollection::new();
    add::<D>(&mut services, Lifetime::Singleton).depends_on::<Arc<A>>();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<B>>();
    add::<B>(&mut services, Lifetime::Singleton).depends_on::<Arc<A>>();
    assert_eq!(
        problems(&services),
        [cycle("`validation_build::D` -> `validation_build::A` -> `validation_build::B` -> `validation_build::A`", A_)]
    );
}

#[test]
fn two_cycles_sharing_a_node_are_both_reported() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<B>>().depends_on::<Arc<C>>();
    add::<B>(&mut services, Lifetime::Singleton).depends_on::<Arc<A>>();
    add::<C>(&mut services, Lifetime::Singleton).depends_on::<Arc<A>>();
    assert_eq!(
        problems(&services),
        [
            cycle("`validation_build::A` -> `validation_build::B` -> `validation_build::A`", A_),
            cycle("`validation_build::A` -> `validation_build::C` -> `validation_build::A`", A_),
        ]
    );
}

#[test]
fn long_chain_does_not_overflow_the_stack() {
    // One type per registration is impossible to spell 50_000 times; keys make distinct nodes.
    let mut services = ServiceCollection::new();
    let n = 50_000u32;
    for i in 0..n {
        services.keyed(i).add_transient::<A>(|_| Ok(Arc::new(A))).depends_on_keyed::<Arc<A>, _>((i + 1) % n);
    }
    let err = services.build().expect_err("one cycle through every registration");
    assert!(matches!(err.problems(), [ValidationError::Cycle { path, .. }] if path.services().len() == n as usize + 1));
}

// ===== all problems at once =====

#[test]
fn every_problem_is_reported_at_once_in_registration_order() {
    let mut services = ServiceCollection::new();
    add::<A>(&mut services, Lifetime::Singleton).depends_on::<Arc<B>>().depends_on_keyed::<Arc<C>, _>("cold");
    add::<B>(&mut services, Lifetime::Scoped);
    add::<C>(&mut services, Lifetime::Transient).depends_on::<Arc<Foo>>();
    add::<D>(&mut services, Lifetime::Transient).depends_on::<Arc<D>>();
    let err = services.build().expect_err("four problems");
    let BuildError::Invalid { problems } = &err else { panic!("expected BuildError::Invalid, got {err:?}") };
    assert!(matches!(
        problems.as_slice(),
        [
            ValidationError::MissingDependency { service: A_, dependency: C_, key: Some(_), .. },
            ValidationError::CapturedScoped { singleton: A_, scoped: B_, .. },
            ValidationError::MissingDependency { service: C_, dependency: FOO, key: None, .. },
            ValidationError::Cycle { service: D_, .. },
        ]
    ));
    assert_eq!(
        err.to_string(),
        "the service collection has 4 problems:\n  \
         - no service registered for `validation_build::C` with key \"cold\" (&str) (required by `validation_build::A`); \
         register it with `services.keyed(key).add_singleton` before `build()`\n  \
         - singleton `validation_build::A` captures scoped service `validation_build::B` (required by \
         `validation_build::A`); resolve `validation_build::B` from a scope created per unit of work with \
         `create_scope()` (through an `Arc<ServiceProvider>` that `validation_build::A` keeps), or make \
         `validation_build::A` scoped if it need not be a singleton\n  \
         - no service registered for `validation_build::Foo` (required by `validation_build::C`); \
         register it with `services.add_transient` before `build()`\n  \
         - dependency cycle detected for `validation_build::D`: `validation_build::D` -> `validation_build::D`; \
         break the cycle, for example by resolving one side later through `Arc<ServiceProvider>`"
    );
    assert_eq!(
        problems.iter().map(ValidationError::registration).collect::<Vec<_>>(),
        [A_, A_, C_, D_],
        "each problem names the registration it belongs to"
    );
}

#[test]
fn build_error_is_send_sync_static() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<BuildError>();
    assert_error::<ValidationError>();
}

/// A registration that maps the user's type to a trait object is named by the user's type, so
/// the message points at the registration to fix (not at `dyn Trait`, shared by many).
#[test]
fn mapped_registrations_are_named_by_their_implementation() {
    use di_core::{BoxError, Dependencies, FromProvider, Lifetime, Provides, Resolver, Source};

    trait Job: Send + Sync {}
    struct Db;
    struct Nightly;
    impl Job for Nightly {}
    impl FromProvider for Nightly {
        fn from_provider(r: &Resolver<'_>) -> Result<Self, BoxError> {
            r.get::<Db>()?;
            Ok(Self)
        }
        fn dependencies(deps: &mut Dependencies) {
            deps.add::<Arc<Db>>();
        }
    }
    impl Provides<dyn Job> for Nightly {
        fn provide(self: Arc<Self>) -> Arc<dyn Job> {
            self
        }
    }

    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::<dyn Job>::implemented_by::<Nightly>());
    let missing = services.build().expect_err("`Db` is missing").to_string();
    assert!(
        missing.contains(
            "(required by `validation_build::mapped_registrations_are_named_by_their_implementation::Nightly`)"
        ),
        "{missing}"
    );

    services.add_scoped::<Db>(|_| Ok(Arc::new(Db)));
    let captive = services.build().expect_err("a singleton captures `Db`").to_string();
    let nightly = "validation_build::mapped_registrations_are_named_by_their_implementation::Nightly";
    assert!(captive.contains(&format!("singleton `{nightly}` captures scoped service")), "{captive}");
    assert!(!captive.contains("dyn "), "names the implementation, not the trait object: {captive}");
}
