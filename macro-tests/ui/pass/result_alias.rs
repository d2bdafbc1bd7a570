//! Return types spelled through an alias: a one-parameter `Result<T>`, an alias not called
//! `Result`, and one whose parameters come in another order. The compiler checks that
//! each is a `Result` (through `ReturnsResult`), not the spelling.

use pool_core::Pool;

use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

type Result<T> = std::result::Result<T, TestError>;
type DbResult<T> = std::result::Result<T, TestError>;
type Flipped<E, T> = std::result::Result<T, E>;

#[pooled]
async fn pooled_alias(conn: &mut MemoryConnection) -> Result<u64> {
    Ok(conn.id)
}

#[resilient(retries = 2)]
async fn resilient_alias(n: u64) -> DbResult<u64> {
    Ok(n)
}

#[resilient(retries = 2)]
#[pooled]
async fn both(conn: &mut MemoryConnection, n: u64) -> DbResult<u64> {
    Ok(conn.id + n)
}

#[resilient(retries = 2)]
#[pooled(transaction)]
async fn in_transaction(conn: &mut MemoryConnection) -> Flipped<TestError, u64> {
    Ok(conn.id)
}

async fn run(pool: &Pool<MemoryManager>) -> Result<u64> {
    Ok(pooled_alias(pool).await?
        + resilient_alias(1).await?
        + both(pool, 2).await?
        + in_transaction(pool).await?)
}

fn main() {
    let _ = run;
}
