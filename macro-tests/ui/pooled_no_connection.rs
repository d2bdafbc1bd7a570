use pool_macros::pooled;
use macro_tests::memory::TestError;

#[pooled]
async fn no_arguments() -> Result<(), TestError> {
    Ok(())
}

#[pooled]
async fn not_a_connection(id: u64) -> Result<u64, TestError> {
    Ok(id)
}

fn main() {}
