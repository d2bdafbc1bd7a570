use pool_sqlx::resilient;
use tests::memory::TestError;

#[resilient(retries = 3)]
async unsafe fn raw() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
