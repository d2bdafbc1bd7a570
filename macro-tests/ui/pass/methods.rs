//! `&self` and `&mut self` methods, doc comments and other attributes.

use pool_core::Pool;

use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};

struct Repository {
    hits: u64,
}

impl Repository {
    /// Documented, and the doc stays.
    #[resilient(retries = 2, timeout = "1s")]
    #[must_use = "a lookup is useless unread"]
    #[allow(clippy::needless_lifetimes)]
    pub async fn read<'a>(&'a self, key: &'a str) -> Result<&'a str, TestError> {
        let _ = self.hits;
        Ok(key)
    }

    #[resilient(retries = 2)]
    async fn write(&mut self, by: u64) -> Result<u64, TestError> {
        self.hits += by;
        Ok(self.hits)
    }

    #[pooled]
    async fn with_connection(&self, conn: &mut MemoryConnection, id: u64) -> Result<u64, TestError> {
        Ok(self.hits + conn.id + id)
    }

    #[resilient(retries = 1)]
    async fn consuming(self: std::sync::Arc<Self>) -> Result<u64, TestError> {
        Ok(self.hits)
    }
}

async fn run(pool: &Pool<MemoryManager>) -> Result<(), TestError> {
    let mut repo = Repository { hits: 0 };
    let _ = repo.read("k").await?;
    repo.write(1).await?;
    repo.with_connection(pool, 1).await?;
    std::sync::Arc::new(repo).consuming().await?;
    Ok(())
}

fn main() {
    let _ = run;
}
