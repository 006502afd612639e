// `resolve` takes the shape of what comes back: `Arc<T>`, `Option<Arc<T>>` or `Vec<Arc<T>>`.
use di_core::ServiceCollection;

fn main() {
    let provider = ServiceCollection::new().build().unwrap();
    let _ = provider.resolve::<u8>();
}
