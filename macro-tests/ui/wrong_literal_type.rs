use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = "3")]
async fn string_count() -> Result<(), TestError> {
    Ok(())
}

#[resilient(timeout = 2)]
async fn bare_number_duration() -> Result<(), TestError> {
    Ok(())
}

#[resilient(idempotent = "yes")]
async fn string_flag() -> Result<(), TestError> {
    Ok(())
}

#[resilient(metrics = find_user)]
async fn path_label() -> Result<(), TestError> {
    Ok(())
}

#[resilient(backoff = "exponental")]
async fn misspelt_choice() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
