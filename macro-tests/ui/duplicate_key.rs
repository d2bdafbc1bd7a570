use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 3, timeout = "1s", retries = 5)]
async fn twice() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
