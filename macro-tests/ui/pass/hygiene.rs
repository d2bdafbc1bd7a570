//! Arguments named like the expansion's own locals neither collide with them nor see
//! them: the generated names live in the macro's hygiene (`Span::mixed_site()`).

use pool_core::Pool;

use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

#[resilient(retries = 2)]
#[pooled(transaction)]
async fn every_name(
    __pool_conn: &mut MemoryConnection,
    __pool: u64,
    __pool_attempts: u64,
    __pool_attempt: u64,
    __pool_result: u64,
    __pool_ret: u64,
    __pool_tx: u64,
) -> Result<u64, TestError> {
    Ok(__pool_conn.id + __pool + __pool_attempts + __pool_attempt + __pool_result + __pool_ret + __pool_tx)
}

#[pooled]
async fn pool_named_pool(__pool_conn: &mut MemoryConnection, __pool: u64) -> Result<u64, TestError> {
    Ok(__pool_conn.id + __pool)
}

#[resilient(retries = 2)]
async fn attempts_named(__pool_attempts: u64, (a, __pool_arg1): (u64, u64)) -> Result<u64, TestError> {
    Ok(__pool_attempts + a + __pool_arg1)
}

#[derive(Clone)]
struct Service {
    base: u64,
}

impl Service {
    /// `self` by value is renamed per attempt; a local called like the copy stays apart.
    #[resilient(retries = 2)]
    async fn owned(self, __pool_self: u64) -> Result<u64, TestError> {
        let __pool_attempt = __pool_self;
        Ok(self.base + __pool_attempt)
    }
}

async fn run(pool: &Pool<MemoryManager>) -> Result<u64, TestError> {
    let _ = Service { base: 1 }.owned(2).await?;
    Ok(every_name(pool, 1, 2, 3, 4, 5, 6).await?
        + pool_named_pool(pool, 1).await?
        + attempts_named(1, (2, 3)).await?)
}

fn main() {
    let _ = run;
}
