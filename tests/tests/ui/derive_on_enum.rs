//! `Injectable` is for structs.
use di_core::Injectable;

#[derive(Injectable)]
enum Backend {
    Sqlite,
    Postgres,
}

fn main() {}
