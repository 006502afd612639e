//! Property-based tests of build-time validation: random dependency graphs with random lifetimes,
//! instances, optional and `All` dependencies and repeated registrations, checked against a
//! simple reference computed in the test: `build()` reports exactly the missing dependencies,
//! the dependency edges that lie on cycles and the captive dependencies that exist, never the
//! same problem twice, and never panics.

use std::collections::BTreeSet;
use std::sync::Arc;

use di_core::{Lifetime, ProviderOptions, Registration, ServiceCollection, Source, ValidationError};
use proptest::prelude::*;

/// One service type per index.
#[derive(Default)]
struct N<const I: usize>;

const TYPES: usize = 6;

/// Runs `$body` with `$t` naming `N<$i>`.
macro_rules! with_type {
    ($i:expr, |$t:ident| $body:expr) => {
        with_type!(@arms $i, $t, $body, 0 1 2 3 4 5)
    };
    (@arms $i:expr, $t:ident, $body:expr, $($n:literal)*) => {
        match $i {
            $($n => {
                type $t = N<$n>;
                $body
            })*
            other => unreachable!("type index {other} out of range"),
        }
    };
}

fn type_index(name: &str) -> usize {
    let digits = name
        .strip_prefix("validation_proptest::N<")
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or_else(|| panic!("unexpected type name {name:?}"));
    digits.parse().expect("a type index")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    One,
    Optional,
    All,
}

/// One registration: its type, its lifetime (`None` for an instance) and its declared dependencies.
#[derive(Debug, Clone)]
struct Reg {
    ty: usize,
    lifetime: Option<Lifetime>,
    deps: Vec<(usize, Kind)>,
}

fn reg() -> impl Strategy<Value = Reg> {
    let lifetime = prop_oneof![
        1 => Just(None),
        3 => Just(Some(Lifetime::Singleton)),
        3 => Just(Some(Lifetime::Scoped)),
        3 => Just(Some(Lifetime::Transient)),
    ];
    let kind = prop_oneof![4 => Just(Kind::One), 1 => Just(Kind::Optional), 1 => Just(Kind::All)];
    (0..TYPES, lifetime, proptest::collection::vec((0..TYPES, kind), 0..=3)).prop_map(|(ty, lifetime, deps)| Reg {
        ty,
        lifetime,
        deps,
    })
}

fn declare<T: ?Sized + Send + Sync + 'static>(r: &mut Registration<'_, T>, target: usize, kind: Kind) {
    with_type!(target, |D| match kind {
        Kind::One => r.depends_on::<Arc<D>>(),
        Kind::Optional => r.depends_on::<Option<Arc<D>>>(),
        Kind::All => r.depends_on::<Vec<Arc<D>>>(),
    });
}

fn register<T: Default + Send + Sync + 'static>(services: &mut ServiceCollection, reg: &Reg) {
    let mut r = match reg.lifetime {
        None => services.add(Lifetime::Singleton, Source::<T>::instance(T::default())),
        Some(lifetime) => {
            services.add::<T>(lifetime, Source::from_fn(|_| Ok::<_, di_core::BoxError>(Arc::new(T::default()))))
        }
    };
    // Declared even on instances: validation must ignore them, an instance resolves nothing.
    for &(target, kind) in &reg.deps {
        declare(&mut r, target, kind);
    }
}

type Pairs = BTreeSet<(usize, usize)>;

/// What validation should find, computed the plain way.
struct Expected {
    missing: Pairs,
    cycle_edges: Pairs,
    captives: Pairs,
}

fn reference(regs: &[Reg], validate_scopes: bool) -> Expected {
    let n = regs.len();
    let slots_of = |ty: usize| (0..n).filter(move |&s| regs[s].ty == ty);
    let mut edge = vec![vec![false; n]; n];
    let mut missing = Pairs::new();
    for (u, r) in regs.iter().enumerate() {
        if r.lifetime.is_none() {
            continue;
        }
        for &(ty, kind) in &r.deps {
            let last = slots_of(ty).next_back();
            match (kind, last) {
                (Kind::One, None) => {
                    missing.insert((r.ty, ty));
                }
                (Kind::One | Kind::Optional, Some(v)) => edge[u][v] = true,
                (Kind::All, _) => slots_of(ty).for_each(|v| edge[u][v] = true),
                (Kind::Optional, None) => {}
            }
        }
    }
    // Transitive closure (Floyd-Warshall).
    let mut reach = edge.clone();
    for k in 0..n {
        for i in 0..n {
            for j in 0..n {
                reach[i][j] |= reach[i][k] && reach[k][j];
            }
        }
    }
    let mut cycle_edges = Pairs::new();
    for u in 0..n {
        for v in 0..n {
            if edge[u][v] && (u == v || reach[v][u]) {
                cycle_edges.insert((regs[u].ty, regs[v].ty));
            }
        }
    }
    // Captives: from each singleton, walk through transients; a scoped service met is captured.
    let mut captives = Pairs::new();
    if validate_scopes {
        for s in (0..n).filter(|&s| regs[s].lifetime == Some(Lifetime::Singleton)) {
            let mut seen = vec![false; n];
            let mut stack = vec![s];
            seen[s] = true;
            while let Some(x) = stack.pop() {
                for y in 0..n {
                    if !edge[x][y] || seen[y] {
                        continue;
                    }
                    seen[y] = true;
                    match regs[y].lifetime {
                        Some(Lifetime::Transient) => stack.push(y),
                        Some(Lifetime::Scoped) => {
                            captives.insert((regs[s].ty, regs[y].ty));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Expected { missing, cycle_edges, captives }
}

/// Whether some registration of type `a` has a dependency edge to some registration of type `b`.
fn type_edge(regs: &[Reg], a: usize, b: usize) -> bool {
    regs.iter().any(|r| {
        r.ty == a
            && r.lifetime.is_some()
            && r.deps.iter().any(|&(ty, kind)| ty == b && (kind == Kind::All || regs.iter().any(|x| x.ty == b)))
    })
}

fn check(regs: &[Reg], validate_scopes: bool) -> Result<(), TestCaseError> {
    let mut services = ServiceCollection::new();
    for r in regs {
        with_type!(r.ty, |T| register::<T>(&mut services, r));
    }
    let expected = reference(regs, validate_scopes);
    let result = services.build_with(ProviderOptions::default().validate_scopes(validate_scopes));
    let problems = match &result {
        Ok(_) => Vec::new(),
        Err(err) => err.problems().to_vec(),
    };
    prop_assert!(result.is_err() || problems.is_empty());
    prop_assert!(result.is_ok() || !problems.is_empty(), "an error always lists at least one problem");

    let (mut missing, mut cycle_edges, mut captives) = (Pairs::new(), Pairs::new(), Pairs::new());
    for p in &problems {
        match p {
            ValidationError::MissingDependency { service, dependency, .. } => {
                missing.insert((type_index(service), type_index(dependency)));
            }
            ValidationError::Cycle { service, path } => {
                let names: Vec<usize> = path.services().iter().map(|s| type_index(s)).collect();
                let repeated = type_index(service);
                prop_assert_eq!(names.last(), Some(&repeated), "a cycle path ends with the repeated service: {}", p);
                let start = names.iter().position(|&t| t == repeated).expect("present");
                prop_assert!(start < names.len() - 1, "the repeated service occurs twice: {}", p);
                for pair in names.windows(2) {
                    prop_assert!(type_edge(regs, pair[0], pair[1]), "{:?} is not a dependency, in {}", pair, p);
                }
                for pair in names[start..].windows(2) {
                    cycle_edges.insert((pair[0], pair[1]));
                }
            }
            ValidationError::CapturedScoped { singleton, scoped, path, .. } => {
                let s = type_index(singleton);
                prop_assert!(
                    path.services().iter().any(|x| type_index(x) == s),
                    "the path passes the singleton: {}",
                    p
                );
                captives.insert((s, type_index(scoped)));
            }
            other => prop_assert!(false, "unexpected problem {}", other),
        }
    }
    let texts: BTreeSet<String> = problems.iter().map(ToString::to_string).collect();
    prop_assert_eq!(texts.len(), problems.len(), "no problem is reported twice: {:?}", problems);
    prop_assert_eq!(missing, expected.missing, "missing dependencies");
    prop_assert_eq!(cycle_edges, expected.cycle_edges, "dependency edges on cycles");
    prop_assert_eq!(captives, expected.captives, "captive dependencies");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn build_reports_exactly_the_problems_that_exist(
        regs in proptest::collection::vec(reg(), 0..=10),
        validate_scopes in any::<bool>(),
    ) {
        check(&regs, validate_scopes)?;
    }
}

#[test]
fn the_reference_sees_a_known_graph() {
    // Guards the reference itself: A -> B -> A with A singleton, B scoped; C missing from B.
    let regs = [
        Reg { ty: 0, lifetime: Some(Lifetime::Singleton), deps: vec![(1, Kind::One)] },
        Reg { ty: 1, lifetime: Some(Lifetime::Scoped), deps: vec![(0, Kind::One), (2, Kind::One)] },
    ];
    let expected = reference(&regs, true);
    assert_eq!(expected.missing, Pairs::from([(1, 2)]));
    assert_eq!(expected.cycle_edges, Pairs::from([(0, 1), (1, 0)]));
    assert_eq!(expected.captives, Pairs::from([(0, 1)]));
    check(&regs, true).expect("validation agrees with the reference");
}
