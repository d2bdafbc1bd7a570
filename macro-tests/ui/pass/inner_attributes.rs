//! Inner attributes of the body (`#![allow(..)]`) stay inside the generated function and
//! apply to the whole body, under both attributes.
#![deny(unused_variables)]

use pool_core::Pool;

use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

#[resilient(retries = 1)]
async fn resilient_allows(n: u64) -> Result<u64, TestError> {
    #![allow(unused_variables)]
    let unused = n;
    Ok(n)
}

#[resilient(retries = 1)]
#[pooled]
async fn both_allow(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    #![allow(unused_variables)]
    let unused = conn.id;
    Ok(1)
}

#[pooled]
async fn pooled_allows(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    #![allow(unused_variables)]
    let unused = conn.id;
    Ok(1)
}

async fn run(pool: &Pool<MemoryManager>) -> Result<u64, TestError> {
    Ok(resilient_allows(1).await? + both_allow(pool).await? + pooled_allows(pool).await?)
}

fn main() {
    let _ = run;
}
