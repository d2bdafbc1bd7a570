use pool_core::Pool;
use pool_macros::pooled;
use macro_tests::memory::{MemoryManager, TestError};

#[pooled]
async fn find_user(pool: &mut Pool<MemoryManager>) -> Result<u64, TestError> {
    let _ = pool;
    Ok(1)
}

fn main() {}
