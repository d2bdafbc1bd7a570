use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(breaker = "")]
async fn nameless() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
