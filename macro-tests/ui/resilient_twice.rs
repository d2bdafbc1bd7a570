use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 1)]
#[resilient(retries = 1, timeout = "1s")]
async fn nested() -> Result<(), TestError> {
    Ok(())
}

fn main() {
    let _ = nested();
}
