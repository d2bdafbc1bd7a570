use pool_core::{Manager, Pool};
use pool_macros::pooled;
use macro_tests::memory::{MemoryError, MemoryManager, TestError};

/// Another backend: its own connection, manager and mapping.
struct KvConnection;
struct KvManager;

impl Manager for KvManager {
    type Connection = KvConnection;
    type Error = MemoryError;
    async fn connect(&self) -> Result<KvConnection, MemoryError> {
        Ok(KvConnection)
    }
    async fn check(&self, _: &mut KvConnection) -> Result<(), MemoryError> {
        Ok(())
    }
    fn has_broken(&self, _: &mut KvConnection) -> bool {
        false
    }
}

impl pool_core::PooledConnection for KvConnection {
    type Manager = KvManager;
}

#[pooled]
async fn get(conn: &mut KvConnection) -> Result<u64, TestError> {
    let _ = conn;
    Ok(1)
}

// The memory backend's pool, where the function takes the key-value backend's.
async fn caller(pool: &Pool<MemoryManager>) -> Result<u64, TestError> {
    get(pool).await
}

fn main() {
    let _ = caller;
}
