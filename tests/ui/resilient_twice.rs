use pool_sqlx::resilient;
use tests::memory::TestError;

#[resilient(retries = 1)]
#[resilient(retries = 1, timeout = "1s")]
async fn nested() -> Result<(), TestError> {
    Ok(())
}

fn main() {
    let _ = nested();
}
