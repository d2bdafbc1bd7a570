use std::sync::OnceLock;

use pool_core::Pool;

use pool_macros::pooled;
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

static DB: OnceLock<Pool<MemoryManager>> = OnceLock::new();

#[pooled(pool = DB)]
async fn find_user(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

fn main() {
    let _ = find_user();
}
