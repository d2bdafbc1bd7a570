use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 3, base = "10s", max_delay = "1s")]
async fn base_above_cap() -> Result<(), TestError> {
    Ok(())
}

#[resilient(timeout = "30s", deadline = "10s")]
async fn attempt_longer_than_call() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
