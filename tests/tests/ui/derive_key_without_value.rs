//! `#[inject(key)]` needs a value.
use std::sync::Arc;

use di_core::Injectable;

struct Db;

#[derive(Injectable)]
struct Repo {
    #[inject(key)]
    db: Arc<Db>,
}

fn main() {}
