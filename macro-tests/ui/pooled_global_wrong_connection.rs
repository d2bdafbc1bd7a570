use pool_core::GlobalPool;
use pool_macros::pooled;
use macro_tests::memory::{MemoryManager, TestError};

/// A connection of another backend than the pool's.
struct SqliteConnection;

static DB: GlobalPool<MemoryManager> = GlobalPool::new("db");

#[pooled(pool = DB)]
async fn find_user(conn: &mut SqliteConnection) -> Result<u64, TestError> {
    let _ = conn;
    Ok(1)
}

async fn caller() -> Result<u64, TestError> {
    find_user().await
}

fn main() {
    let _ = caller;
}
