use pool_core::{Classify, ErrorClass, GlobalPool};
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

static DB: GlobalPool<MemoryManager> = GlobalPool::new("db");

// The manager is known here: the error type is checked at the definition.
#[pooled(pool = DB)]
async fn find_user(conn: &mut MemoryConnection) -> Result<u64, AppError> {
    Ok(conn.id)
}

fn main() {
    let _ = find_user();
}
