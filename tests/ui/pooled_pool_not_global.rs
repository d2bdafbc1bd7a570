use std::sync::OnceLock;

use pool_sqlx::{Pool, pooled};
use tests::memory::{MemoryConnection, MemoryManager, TestError};

static DB: OnceLock<Pool<MemoryManager>> = OnceLock::new();

#[pooled(pool = DB)]
async fn find_user(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

fn main() {
    let _ = find_user();
}
