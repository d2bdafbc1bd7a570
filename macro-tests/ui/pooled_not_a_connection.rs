use pool_core::Pool;
use pool_macros::pooled;
use macro_tests::memory::{MemoryManager, TestError};

/// A type no pool hands out: no `PooledConnection` names its manager.
struct SqliteConnection;

#[pooled]
async fn find_user(conn: &mut SqliteConnection) -> Result<u64, TestError> {
    let _ = conn;
    Ok(1)
}

async fn caller(pool: &Pool<MemoryManager>) -> Result<u64, TestError> {
    find_user(pool).await
}

fn main() {
    let _ = caller;
}
