use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, TestError};

// A transaction on a read path.
#[pooled(read, transaction)]
async fn read_in_transaction(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

// The same under `#[resilient]`, which expands the `#[pooled]` below it.
#[resilient(retries = 2)]
#[pooled(transaction, read)]
async fn retried_read_in_transaction(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

fn main() {}
