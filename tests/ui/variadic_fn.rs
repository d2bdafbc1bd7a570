use pool_sqlx::resilient;
use tests::memory::TestError;

#[resilient(retries = 3)]
async fn varargs(first: u32, _: ...) -> Result<(), TestError> {
    let _ = first;
    Ok(())
}

fn main() {}
