use pool_core::{GlobalPool, PoolError};
use pool_macros::pooled;
use macro_tests::memory::{MemoryConnection, MemoryError, MemoryManager};

/// Takes pool errors, but has no room for a database error.
#[derive(Debug)]
struct AppError;

impl From<PoolError<MemoryError>> for AppError {
    fn from(_: PoolError<MemoryError>) -> Self {
        AppError
    }
}

impl pool_core::Classify for AppError {
    fn class(&self) -> pool_core::ErrorClass {
        pool_core::ErrorClass::Permanent
    }
}

static DB: GlobalPool<MemoryManager> = GlobalPool::new("db");

#[pooled(pool = DB, transaction)]
async fn transfer(conn: &mut MemoryConnection) -> Result<(), AppError> {
    let _ = conn;
    Ok(())
}

fn main() {}
