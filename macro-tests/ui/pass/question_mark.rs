//! `?` and `return` in the body, and a `Result` alias with one parameter.

use pool_core::ErrorClass;

use pool_macros::resilient;
use macro_tests::memory::TestError;

type Result<T> = std::result::Result<T, TestError>;

fn step(n: u32) -> Result<u32> {
    if n == 0 { Err(TestError::App(ErrorClass::Transient)) } else { Ok(n) }
}

#[resilient(retries = 3)]
async fn chained(n: u32) -> Result<u32> {
    let a = step(n)?;
    if a > 10 {
        return Ok(10);
    }
    let b = step(a - 1).map_err(|e| e)?;
    Ok(a + b)
}

#[resilient(retries = 3, idempotent, bulkhead = 8, deadline = "10s", metrics = "orders.find")]
async fn io_error_converted(n: u32) -> std::result::Result<u32, TestError> {
    let parsed: u32 = "12".parse().map_err(|_| TestError::App(ErrorClass::Permanent))?;
    Ok(parsed + n)
}

fn main() {
    let _ = chained(1);
    let _ = io_error_converted(1);
}
