//! `#[inject(default)]` needs a type that implements `Default`.
use di_core::Injectable;

struct Socket;

#[derive(Injectable)]
struct Client {
    #[inject(default)]
    socket: Socket,
}

fn main() {}
