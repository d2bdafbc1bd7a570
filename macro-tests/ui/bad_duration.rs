use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(timeout = "2 parsecs")]
async fn unknown_unit() -> Result<(), TestError> {
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

#[resilient(max_delay = "600y")]
async fn too_long() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
