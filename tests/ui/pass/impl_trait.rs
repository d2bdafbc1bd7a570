//! `impl Trait` arguments, by value (cloned per attempt) and by reference.

use pool_sqlx::resilient;
use tests::memory::TestError;

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
