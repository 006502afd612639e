//! Registering a type as a trait it was not declared to provide.
use di_core::{Injectable, Lifetime, ServiceCollection, Source};

trait EmployeeDb: Send + Sync {}

#[derive(Injectable)]
struct Sqlite;

impl EmployeeDb for Sqlite {}

fn main() {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Scoped, Source::<dyn EmployeeDb>::implemented_by::<Sqlite>());
}
