use pool_core::{Classify, ErrorClass, Pool};
use pool_macros::pooled;
use macro_tests::memory::{MemoryConnection, MemoryManager};

/// An error type that cannot carry a failed checkout.
#[derive(Debug)]
struct AppError;

impl Classify for AppError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

#[pooled]
async fn find_user(conn: &mut MemoryConnection) -> Result<u64, AppError> {
    Ok(conn.id)
}

async fn caller(pool: &Pool<MemoryManager>) -> Result<u64, AppError> {
    find_user(pool).await
}

fn main() {
    let _ = caller;
}
