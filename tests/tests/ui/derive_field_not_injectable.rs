//! Plain values, `Rc`, and `Option`/`Vec` without `Arc` cannot be injected; every bad field is reported.
use std::rc::Rc;
use std::sync::Arc;

use di_core::Injectable;

struct Db;

#[derive(Injectable)]
struct Repo {
    db: Arc<Db>,
    retries: u32,
    shared: Rc<Db>,
    maybe: Option<Db>,
    many: Vec<Db>,
}

fn main() {}
