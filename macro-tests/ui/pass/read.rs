//! `#[pooled(read)]`: the function takes what it reads from (a `&Pool` here; a
//! `&Replicas` in `tests/tests/cluster/replicas.rs`), alone and under `#[resilient]`, and a
//! `ReadSource` of the user's own.

use pool_core::{Pool, ReadSource};

use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

#[pooled(read)]
async fn find_user(conn: &mut MemoryConnection, id: u64) -> Result<u64, TestError> {
    Ok(conn.id + id)
}

#[resilient(retries = 2, timeout = "1s")]
#[pooled(read = true)]
async fn retried_read(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

/// A user's own set: reads from its second pool.
struct TwoPools {
    write: Pool<MemoryManager>,
    read: Pool<MemoryManager>,
}

impl ReadSource for TwoPools {
    type Manager = MemoryManager;

    fn read_pool(&self) -> &Pool<MemoryManager> {
        &self.read
    }
}

async fn run(pool: &Pool<MemoryManager>, set: &TwoPools) -> Result<(), TestError> {
    find_user(pool, 1).await?;
    retried_read(pool).await?;
    find_user(set, 2).await?;
    retried_read(set).await?;
    let _ = &set.write;
    Ok(())
}

fn main() {
    let _ = run;
}
