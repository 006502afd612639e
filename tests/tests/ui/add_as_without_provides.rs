//! Registering a type as a trait it was not declared to provide.
use di_core::{Injectable, ServiceCollection};

trait EmployeeDb: Send + Sync {}

#[derive(Injectable)]
struct Sqlite;

impl EmployeeDb for Sqlite {}

fn main() {
    let mut services = ServiceCollection::new();
    services.add_scoped_as::<dyn EmployeeDb, Sqlite>();
}
