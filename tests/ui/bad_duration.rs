use pool_sqlx::resilient;
use tests::memory::TestError;

#[resilient(timeout = "2 seconds")]
async fn spelt_out() -> Result<(), TestError> {
    Ok(())
}

#[resilient(timeout = "2")]
async fn no_unit() -> Result<(), TestError> {
    Ok(())
}

#[resilient(base = "fast")]
async fn words() -> Result<(), TestError> {
    Ok(())
}

#[resilient(deadline = "0s")]
async fn zero() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
