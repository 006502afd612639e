//! Build-time validation of declared dependencies.
//!
//! The graph has one node per registration (slot) and one edge per declared dependency, to the
//! registration a resolve would use: the last registration of the type (and key) for a required
//! or optional dependency, every registration for an `All` dependency. Instances and built-ins
//! declare nothing, so they end every path (an instance breaks what would be a cycle).
//!
//! Three checks run over that graph, and every problem is reported once:
//!
//! - **missing**: a required dependency with no registration, once per declaring registration;
//! - **cycles**: every edge that lies on a cycle is shown in at least one reported cycle (the
//!   shortest cycle through it), so that a strongly connected tangle is reported as the few
//!   cycles a user must break rather than every one of its possibly exponentially many cycles;
//! - **captive** (with `validate_scopes`): a singleton that reaches a scoped service through
//!   transients only (the *nearest* singleton, as the resolver names it), once per pair.
//!
//! Each problem's path starts at the first registration, in registration order, from which it is
//! reachable (the registration being validated), so that the text matches what resolving that
//! registration would report at run time: `D -> A -> B -> A`.

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::descriptor::{Dependency, DependencyKind, Descriptor, Factory};
use crate::error::{ResolutionPath, ValidationError};
use crate::key::{AnyKey, ServiceKey};
use crate::lifetime::Lifetime;
use crate::options::ProviderOptions;

/// Every problem in the declared dependency graph, ordered by the registration each belongs to
/// (the first element of its path), then missing dependencies, cycles and captives.
pub(crate) fn validate(descriptors: &[Descriptor], options: ProviderOptions) -> Vec<ValidationError> {
    let graph = Graph::new(descriptors);
    let mut found = Vec::new();
    graph.missing(&mut found);
    graph.cycles(&mut found);
    if options.validates_scopes() {
        graph.captives(&mut found);
    }
    // Stable: within one registration, problems keep the order they were found in.
    found.sort_by_key(|(start, _)| *start);
    let mut problems: Vec<ValidationError> = Vec::with_capacity(found.len());
    for (_, problem) in found {
        // Two registrations of one type can produce the very same line; show it once.
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    problems
}

/// The dependency graph over registration slots.
struct Graph<'a> {
    descriptors: &'a [Descriptor],
    /// Slot -> the group of registrations sharing its (type, key).
    group: Vec<usize>,
    /// Slot -> the slots its declared dependencies resolve to, without repeats, in declaration order.
    edges: Adjacency,
    /// Slot -> the slots that depend on it, in registration order.
    reverse: Adjacency,
    /// (declaring slot, dependency) for every required dependency with no registration.
    unresolved: Vec<(usize, &'a Dependency)>,
}

impl<'a> Graph<'a> {
    fn new(descriptors: &'a [Descriptor]) -> Self {
        // Each group's first slot, and the next group whose key has the same (type, hash).
        let mut firsts: Vec<usize> = Vec::new();
        let mut same_hash: Vec<usize> = Vec::new();
        let mut group = Vec::with_capacity(descriptors.len());
        let mut unkeyed: FxHashMap<std::any::TypeId, usize> = FxHashMap::default();
        // Keyed groups by (type, key hash): the first group, the rest chained through
        // `same_hash`; the key's own equality settles collisions.
        let mut keyed: FxHashMap<(std::any::TypeId, u64), usize> = FxHashMap::default();
        let find = |unkeyed: &FxHashMap<_, usize>,
                    keyed: &FxHashMap<_, usize>,
                    firsts: &[usize],
                    same_hash: &[usize],
                    d: &Dependency,
                    fallback: bool| {
            match &d.key {
                None => unkeyed.get(&d.service).copied(),
                Some(key) => {
                    let group = |key: &ServiceKey| {
                        let mut candidate = keyed.get(&(d.service, key.hash_for(d.service))).copied();
                        while let Some(g) = candidate {
                            if descriptors[firsts[g]].key.as_ref().is_some_and(|k| k.same_as(key)) {
                                return Some(g);
                            }
                            candidate = Some(same_hash[g]).filter(|&next| next != usize::MAX);
                        }
                        None
                    };
                    // A registration under `AnyKey` serves every key without one of its own.
                    group(key).or_else(|| if fallback { group(&ServiceKey::new(AnyKey)) } else { None })
                }
            }
        };
        for (slot, d) in descriptors.iter().enumerate() {
            let probe = Dependency { service: d.service, name: d.name, key: d.key.clone(), kind: DependencyKind::One };
            let g = match find(&unkeyed, &keyed, &firsts, &same_hash, &probe, false) {
                Some(g) => g,
                None => {
                    let g = firsts.len();
                    firsts.push(slot);
                    same_hash.push(usize::MAX);
                    match &d.key {
                        None => {
                            unkeyed.insert(d.service, g);
                        }
                        Some(key) => {
                            // Chained in front: the chain's order does not matter, equality decides.
                            if let Some(next) = keyed.insert((d.service, key.hash_for(d.service)), g) {
                                same_hash[g] = next;
                            }
                        }
                    }
                    g
                }
            };
            group.push(g);
        }
        // Each group's slots in registration order, in one vector.
        let members: Vec<(usize, usize)> = group.iter().enumerate().map(|(slot, &g)| (g, slot)).collect();
        let groups = Adjacency::new(firsts.len(), &members, |&pair| pair);

        // Every edge (slot, target), by slot: one vector, not one per slot.
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut unresolved = Vec::new();
        for (slot, d) in descriptors.iter().enumerate() {
            let from = pairs.len();
            // An instance (or a built-in) is handed out as is: whatever was declared on it is never resolved.
            if !matches!(d.factory, Factory::Sync(_) | Factory::Async(_) | Factory::Alias(_)) {
                continue;
            }
            for dep in &d.dependencies {
                let all = matches!(dep.kind, DependencyKind::All);
                let targets: &[usize] = match (find(&unkeyed, &keyed, &firsts, &same_hash, dep, !all), dep.kind) {
                    (Some(g), DependencyKind::All) => groups.of(g),
                    (Some(g), DependencyKind::One | DependencyKind::Optional) => {
                        std::slice::from_ref(groups.of(g).last().expect("groups are never empty"))
                    }
                    (None, DependencyKind::One) => {
                        unresolved.push((slot, dep));
                        &[]
                    }
                    (None, DependencyKind::Optional | DependencyKind::All) => &[],
                };
                for &t in targets {
                    if !pairs[from..].iter().any(|&(_, seen)| seen == t) {
                        pairs.push((slot, t));
                    }
                }
            }
        }
        let edges = Adjacency::new(descriptors.len(), &pairs, |&pair| pair);
        let reverse = Adjacency::new(descriptors.len(), &pairs, |&(slot, t)| (t, slot));
        Self { descriptors, group, edges, reverse, unresolved }
    }

    fn name(&self, slot: usize) -> &'static str {
        self.descriptors[slot].display_name()
    }

    fn path(&self, slots: &[usize]) -> ResolutionPath {
        ResolutionPath::new(slots.iter().map(|&s| self.name(s)).collect())
    }

    /// The route from the first registration (in registration order) that reaches one of
    /// `targets` to the nearest of them, both ends included. Nodes for which `avoid` holds are
    /// never passed through (targets themselves are always allowed).
    fn route(&self, targets: &[usize], avoid: impl Fn(usize) -> bool) -> Vec<usize> {
        let n = self.descriptors.len();
        let is_target = |s: usize| targets.contains(&s);
        // Backwards: who reaches a target?
        let mut reaches = vec![false; n];
        let mut queue: VecDeque<usize> = targets.iter().copied().collect();
        for &t in targets {
            reaches[t] = true;
        }
        while let Some(s) = queue.pop_front() {
            for &p in self.reverse.of(s) {
                if !reaches[p] && !avoid(p) {
                    reaches[p] = true;
                    queue.push_back(p);
                }
            }
        }
        let start = reaches.iter().position(|&r| r).expect("targets reach themselves");
        // Forwards: the shortest route from `start` to a target, through nodes that reach one.
        let mut parent: FxHashMap<usize, usize> = FxHashMap::default();
        parent.insert(start, start);
        queue.clear();
        queue.push_back(start);
        while let Some(s) = queue.pop_front() {
            if is_target(s) {
                return unwind(&parent, start, s);
            }
            for &next in self.edges.of(s) {
                if reaches[next] && !parent.contains_key(&next) {
                    parent.insert(next, s);
                    queue.push_back(next);
                }
            }
        }
        unreachable!("`start` reaches a target through nodes that reach one")
    }

    fn missing(&self, found: &mut Vec<(usize, ValidationError)>) {
        for &(slot, dep) in &self.unresolved {
            let route = self.route(&[slot], |_| false);
            let d = &self.descriptors[slot];
            found.push((
                route[0],
                ValidationError::MissingDependency {
                    service: d.display_name(),
                    dependency: dep.name,
                    key: dep.key.as_ref().map(crate::key::ServiceKey::label),
                    lifetime: d.lifetime,
                    path: self.path(&route),
                },
            ));
        }
    }

    fn cycles(&self, found: &mut Vec<(usize, ValidationError)>) {
        let component = self.components();
        let mut covered: FxHashSet<(usize, usize)> = FxHashSet::default();
        let mut seen: FxHashSet<Vec<usize>> = FxHashSet::default();
        for u in 0..self.descriptors.len() {
            for &v in self.edges.of(u) {
                if component[u] != component[v] || covered.contains(&(u, v)) {
                    continue;
                }
                // The shortest cycle through u -> v: that edge, then the shortest way back.
                let mut cycle = vec![u];
                if v != u {
                    cycle.extend(self.shortest(v, u, |s| component[s] == component[u]));
                    cycle.pop(); // `u` again
                }
                for (i, &s) in cycle.iter().enumerate() {
                    covered.insert((s, cycle[(i + 1) % cycle.len()]));
                }
                if seen.insert(self.canonical(&cycle)) {
                    found.push(self.report_cycle(&cycle));
                }
            }
        }
    }

    /// The cycle as groups, rotated to start at its smallest rotation: two cycles that read the
    /// same read the same here.
    fn canonical(&self, cycle: &[usize]) -> Vec<usize> {
        let groups: Vec<usize> = cycle.iter().map(|&s| self.group[s]).collect();
        let smallest = *groups.iter().min().expect("a cycle has at least one node");
        // Only rotations that start with the smallest group can be the smallest rotation.
        (0..groups.len())
            .filter(|&i| groups[i] == smallest)
            .map(|i| groups[i..].iter().chain(&groups[..i]).copied().collect::<Vec<_>>())
            .min()
            .expect("the smallest group occurs")
    }

    /// Reports `cycle` (its nodes, first not repeated) from the first registration that reaches
    /// it without passing through a registration of a type on the cycle. Such a prefix never
    /// names a type the cycle names, so the cycle starts at the first mention of its last type.
    fn report_cycle(&self, cycle: &[usize]) -> (usize, ValidationError) {
        let on_cycle: FxHashSet<usize> = cycle.iter().map(|&s| self.group[s]).collect();
        let mut route = self.route(cycle, |s| on_cycle.contains(&self.group[s]));
        let entry = *route.last().expect("a route is never empty");
        let at = cycle.iter().position(|&s| s == entry).expect("the route ends on the cycle");
        route.extend(cycle[at + 1..].iter().chain(&cycle[..=at]));
        let error = ValidationError::Cycle { service: self.name(entry), path: self.path(&route) };
        (route[0], error)
    }

    fn captives(&self, found: &mut Vec<(usize, ValidationError)>) {
        let mut seen: FxHashSet<(usize, usize)> = FxHashSet::default();
        // Reused from one singleton to the next: most have few dependencies or none.
        let mut parent: FxHashMap<usize, usize> = FxHashMap::default();
        let mut queue = VecDeque::new();
        for s in 0..self.descriptors.len() {
            if self.descriptors[s].lifetime != Lifetime::Singleton || self.edges.of(s).is_empty() {
                continue;
            }
            // Breadth-first through transients: a scoped service reached this way is captured by
            // `s`; one reached through another singleton is that singleton's problem.
            parent.clear();
            queue.clear();
            queue.push_back(s);
            parent.insert(s, s);
            while let Some(x) = queue.pop_front() {
                for &next in self.edges.of(x) {
                    if parent.contains_key(&next) {
                        continue;
                    }
                    parent.insert(next, x);
                    match self.descriptors[next].lifetime {
                        Lifetime::Transient => queue.push_back(next),
                        Lifetime::Scoped if seen.insert((self.group[s], self.group[next])) => {
                            let mut route = self.route(&[s], |_| false);
                            route.extend(&unwind(&parent, s, x)[1..]);
                            found.push((
                                route[0],
                                ValidationError::CapturedScoped {
                                    lifetime_fixed: self.descriptors[s].lifetime_fixed,
                                    singleton: self.name(s),
                                    scoped: self.name(next),
                                    path: self.path(&route),
                                },
                            ));
                        }
                        Lifetime::Scoped | Lifetime::Singleton => {}
                    }
                }
            }
        }
    }

    /// The shortest path `from` -> `to` (both included) through nodes for which `within` holds.
    fn shortest(&self, from: usize, to: usize, within: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut parent: FxHashMap<usize, usize> = FxHashMap::default();
        parent.insert(from, from);
        let mut queue = VecDeque::from([from]);
        while let Some(x) = queue.pop_front() {
            if x == to {
                break;
            }
            for &next in self.edges.of(x) {
                if within(next) && !parent.contains_key(&next) {
                    parent.insert(next, x);
                    queue.push_back(next);
                }
            }
        }
        unwind(&parent, from, to)
    }

    /// Strongly connected components (Tarjan, iterative so a long chain cannot overflow the
    /// stack). Returns each slot's component id. A slot alone in its component is on a cycle only
    /// if it depends on itself, which `cycles` sees as an edge within one component.
    fn components(&self) -> Vec<usize> {
        let n = self.descriptors.len();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut component = vec![usize::MAX; n];
        let mut stack = Vec::new();
        // Frames: (node, position of the next edge to look at); one vector for every root.
        let mut frames = Vec::new();
        let mut next_index = 0;
        let mut next_component = 0;
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            frames.push((root, 0));
            index[root] = next_index;
            low[root] = next_index;
            next_index += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut i)) = frames.last_mut() {
                if let Some(&w) = self.edges.of(v).get(*i) {
                    *i += 1;
                    if index[w] == usize::MAX {
                        index[w] = next_index;
                        low[w] = next_index;
                        next_index += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        frames.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                frames.pop();
                if let Some(&(parent, _)) = frames.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component[w] = next_component;
                        if w == v {
                            break;
                        }
                    }
                    next_component += 1;
                }
            }
        }
        component
    }
}

/// Each node's neighbours in one vector (compressed rows): what a vector per node would hold,
/// in the same order, without an allocation per node.
struct Adjacency {
    /// Node `n`'s neighbours are `targets[starts[n]..starts[n + 1]]`.
    starts: Vec<usize>,
    targets: Vec<usize>,
}

impl Adjacency {
    /// The adjacency of `n` nodes with an edge `edge(pair)` (from, to) per pair, each node's
    /// neighbours in the order of `pairs`.
    fn new<P>(n: usize, pairs: &[P], edge: impl Fn(&P) -> (usize, usize)) -> Self {
        let mut starts = vec![0; n + 1];
        for pair in pairs {
            starts[edge(pair).0 + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut targets = vec![0; pairs.len()];
        for pair in pairs {
            let (from, to) = edge(pair);
            targets[next[from]] = to;
            next[from] += 1;
        }
        Self { starts, targets }
    }

    fn of(&self, node: usize) -> &[usize] {
        &self.targets[self.starts[node]..self.starts[node + 1]]
    }
}

/// The path `from` -> `to` (both included) recorded by a breadth-first search as each node's parent.
fn unwind(parent: &FxHashMap<usize, usize>, from: usize, to: usize) -> Vec<usize> {
    let mut path = vec![to];
    let mut cur = to;
    while cur != from {
        cur = parent[&cur];
        path.push(cur);
    }
    path.reverse();
    path
}
