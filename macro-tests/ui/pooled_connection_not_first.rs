use pool_macros::pooled;
use macro_tests::memory::{MemoryConnection, TestError};

#[pooled]
async fn find(id: u64, conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(id + conn.id)
}

fn main() {}
