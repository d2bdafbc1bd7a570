use pool_sqlx::pooled;
use tests::memory::{MemoryConnection, TestError};

#[pooled]
async fn find(id: u64, conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(id + conn.id)
}

fn main() {}
