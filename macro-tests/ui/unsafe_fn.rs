use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 3)]
async unsafe fn raw() -> Result<(), TestError> {
    Ok(())
}

fn main() {}
