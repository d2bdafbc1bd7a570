use pool_sqlx::resilient;
use tests::memory::TestError;

#[resilient(retries = 3, timeout = "1s", retries = 5)]
async fn twice() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
