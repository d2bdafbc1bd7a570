//! `impl Trait` arguments, by value (cloned per attempt) and by reference.

use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 2)]
async fn show(shown: &impl std::fmt::Display, owned: impl Into<String> + Clone) -> Result<String, TestError> {
    Ok(format!("{shown}{}", owned.into()))
}

#[resilient(retries = 2)]
async fn call(f: impl Fn() -> u32 + Clone) -> Result<u32, TestError> {
    Ok(f())
}

fn main() {
    let _ = show(&1, "a");
    let _ = call(|| 3);
}

/// `impl Trait` in the return type's `Ok`.
#[resilient(retries = 2)]
async fn shown(n: u32) -> Result<impl std::fmt::Display, TestError> {
    Ok(n)
}

#[pool_macros::pooled]
async fn pooled_shown(conn: &mut macro_tests::memory::MemoryConnection) -> Result<impl std::fmt::Debug, TestError> {
    Ok(conn.id)
}

#[allow(dead_code)]
fn more() {
    let _ = shown(1);
    let _ = pooled_shown;
}
