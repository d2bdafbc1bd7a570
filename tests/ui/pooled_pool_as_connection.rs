use pool_sqlx::{Pool, pooled};
use tests::memory::{MemoryManager, TestError};

#[pooled]
async fn find_user(pool: &mut Pool<MemoryManager>) -> Result<u64, TestError> {
    let _ = pool;
    Ok(1)
}

fn main() {}
