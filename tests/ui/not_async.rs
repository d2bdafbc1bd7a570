use pool_sqlx::{pooled, resilient};
use tests::memory::{MemoryConnection, TestError};

#[resilient(retries = 3)]
fn blocking() -> Result<(), TestError> {
    Ok(())
}

#[pooled]
fn blocking_pooled(conn: &mut MemoryConnection) -> Result<(), TestError> {
    let _ = conn;
    Ok(())
}

fn main() {}
