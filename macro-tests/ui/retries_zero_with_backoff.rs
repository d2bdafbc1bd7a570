use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 0, backoff = "exponential")]
async fn no_retry_to_delay() -> Result<(), TestError> {
    Ok(())
}

#[resilient(retries = 0, timeout = "1s", base = "100ms")]
async fn no_base_either() -> Result<(), TestError> {
    Ok(())
}



#[resilient(jitter = "full")]
async fn retries_not_given() -> Result<(), TestError> {
    Ok(())
}
fn main() {}
