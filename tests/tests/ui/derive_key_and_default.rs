//! A field is either resolved by key or filled with `Default`, not both.
use std::sync::Arc;

use di_core::Injectable;

#[derive(Injectable)]
struct Repo {
    #[inject(key = "primary", default)]
    db: Arc<u32>,
}

fn main() {}
