use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 3)]
const fn constant() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
