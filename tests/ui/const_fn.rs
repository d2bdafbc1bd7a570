use pool_sqlx::resilient;
use tests::memory::TestError;

#[resilient(retries = 3)]
const fn constant() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
