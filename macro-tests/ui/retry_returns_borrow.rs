use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 2)]
async fn first(items: &mut Vec<u32>) -> Result<&mut u32, TestError> {
    items.first_mut().ok_or(TestError::App(pool_core::ErrorClass::Permanent))
}

fn main() {}
