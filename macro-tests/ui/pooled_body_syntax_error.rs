use pool_core::Pool;
use pool_macros::pooled;
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

#[pooled]
async fn broken(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    let id = conn.id + ;
    Ok(id)
}

// The caller passes a pool, as the generated signature says: no second error here.
async fn caller(pool: &Pool<MemoryManager>) -> Result<u64, TestError> {
    broken(pool).await
}

fn main() {
    let _ = caller;
}
