use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 1)]
async fn broken(n: u32) -> Result<u32, TestError> {
    #![allow(clippy::identity_op)]
    let doubled = n * ;
    Ok(doubled)
}

// The caller still finds the function: one mistake, one error.
async fn caller() -> Result<u32, TestError> {
    broken(1).await
}

fn main() {
    let _ = caller();
}
