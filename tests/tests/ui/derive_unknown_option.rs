//! Unknown options on the field and on the struct name what is accepted.
use std::sync::Arc;

use di_core::Injectable;

#[derive(Injectable)]
struct Repo {
    #[inject(lazy)]
    db: Arc<u32>,
}

#[derive(Injectable)]
#[injectable(scoped)]
struct Cache;

#[derive(Injectable)]
#[injectable(provides())]
struct Store;

fn main() {}
