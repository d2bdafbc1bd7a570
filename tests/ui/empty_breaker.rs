use pool_sqlx::resilient;
use tests::memory::TestError;

#[resilient(breaker = "")]
async fn nameless() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
