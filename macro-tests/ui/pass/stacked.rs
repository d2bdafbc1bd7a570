//! `#[resilient]` over `#[pooled]`, generic pool and global pool, with a transaction,
//! named and declared breakers.

use pool_core::{DeclaredBreaker, GlobalPool, Pool};

use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

static DB: GlobalPool<MemoryManager> = GlobalPool::new("db");
static ORDERS: DeclaredBreaker = DeclaredBreaker::new("orders");

#[resilient(retries = 3, backoff = "exponential", timeout = "2s", breaker = "db")]
#[pooled]
async fn find_user(conn: &mut MemoryConnection, id: u64) -> Result<u64, TestError> {
    Ok(conn.id + id)
}

#[resilient(retries = 3, breaker = ORDERS)]
#[pooled(pool = DB, transaction)]
async fn place_order(conn: &mut MemoryConnection, items: Vec<u64>) -> Result<u64, TestError> {
    Ok(conn.id + items.iter().sum::<u64>())
}

#[resilient(retries = 2)]
#[pool_macros::pooled(transaction)]
async fn in_transaction(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

async fn run(pool: &Pool<MemoryManager>) -> Result<(), TestError> {
    find_user(pool, 1).await?;
    place_order(vec![1, 2]).await?;
    in_transaction(pool).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

/// The other order: `#[pooled]` expands first and `#[resilient]` wraps the checkout, so
/// each attempt still gets its own connection.
#[pooled]
#[resilient(retries = 2)]
async fn other_order(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

/// Naming the runtime crate explicitly.
#[resilient(crate = pool_core, retries = 1)]
#[pooled(crate = pool_core)]
async fn explicit_crate(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

#[allow(dead_code)]
async fn run_more(pool: &Pool<MemoryManager>) -> Result<(), TestError> {
    other_order(pool).await?;
    explicit_crate(pool).await?;
    Ok(())
}
