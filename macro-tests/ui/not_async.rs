use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, TestError};

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
