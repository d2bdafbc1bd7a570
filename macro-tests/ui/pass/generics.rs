//! Generics, where clauses, lifetimes and patterns in arguments.

use std::fmt::Display;

use pool_core::Pool;

use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, TestError};

#[resilient(retries = 3, backoff = "exponential", base = "50ms", max_delay = "2s", jitter = "full")]
async fn render<'a, T, U: Clone>(label: &'a T, extra: U, (a, b): (u32, u32)) -> Result<String, TestError>
where
    T: Display + ?Sized,
    U: Into<u64>,
{
    Ok(format!("{label} {} {}", extra.into(), a + b))
}

#[resilient(retries = 1)]
async fn by_mut<T: Default>(slot: &mut T, mut count: usize) -> Result<usize, TestError> {
    *slot = T::default();
    count += 1;
    Ok(count)
}

#[pooled]
async fn generic_body<K: Copy + Into<u64>>(conn: &mut MemoryConnection, key: K) -> Result<u64, TestError> {
    Ok(conn.id + key.into())
}

async fn run(pool: &Pool<macro_tests::memory::MemoryManager>) -> Result<(), TestError> {
    render("x", 1u8, (1, 2)).await?;
    let mut slot = 5u8;
    by_mut(&mut slot, 0).await?;
    generic_body(pool, 3u32).await?;
    Ok(())
}

fn main() {
    let _ = run;
}
