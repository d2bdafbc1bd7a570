use pool_sqlx::{pooled, resilient};

#[resilient(retries = 3)]
struct Repository {
    name: String,
}

#[pooled]
enum Mode {
    Read,
}

fn main() {}
