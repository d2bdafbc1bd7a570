use pool_core::GlobalPool;
use pool_macros::pooled;
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

static DB: GlobalPool<MemoryManager> = GlobalPool::new("db");

#[pooled(pool = DB, read)]
async fn read_from_global(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

fn main() {}
