use pool_macros::pooled;
use macro_tests::memory::{MemoryConnection, TestError};

#[pooled(read)]
async fn find_user(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

async fn call(url: &str) -> Result<u64, TestError> {
    // A URL where the set (or a pool) goes.
    find_user(url).await
}

fn main() {
    let _ = call;
}
