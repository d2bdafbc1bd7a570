use pool_core::Pool;
use pool_macros::pooled;
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

#[pooled(transacton)]
async fn find_user(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

// The caller passes a pool, as the generated signature says: one error, on the key.
async fn caller(pool: &Pool<MemoryManager>) -> Result<u64, TestError> {
    find_user(pool).await
}

fn main() {
    let _ = caller;
}
