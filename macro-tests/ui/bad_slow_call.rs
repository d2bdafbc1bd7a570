use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(slow_call = "soon")]
async fn words() -> Result<(), TestError> {
    Ok(())
}

#[resilient(slow_call = 2)]
async fn no_unit() -> Result<(), TestError> {
    Ok(())
}

#[resilient(slow_call = "0ms")]
async fn zero() -> Result<(), TestError> {
    Ok(())
}

#[resilient(slow_call = true)]
async fn wrong_type() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
