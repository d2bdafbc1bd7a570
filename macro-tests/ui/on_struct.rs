use pool_macros::{pooled, resilient};

#[resilient(retries = 3)]
struct Repository {
    name: String,
}

#[pooled]
enum Mode {
    Read,
}

fn main() {}
