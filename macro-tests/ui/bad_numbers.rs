use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = -1)]
async fn negative() -> Result<(), TestError> {
    Ok(())
}

#[resilient(retries = 1000)]
async fn absurd() -> Result<(), TestError> {
    Ok(())
}

#[resilient(retries = 99999999999999999999999)]
async fn overflow() -> Result<(), TestError> {
    Ok(())
}

#[resilient(bulkhead = 0)]
async fn empty_bulkhead() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
