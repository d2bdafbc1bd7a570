//! Receivers by value under retries: each attempt gets its own clone, like an owned
//! argument, so a body that consumes `self` compiles.

use std::sync::Arc;

use async_trait::async_trait;
use pool_macros::resilient;
use macro_tests::memory::TestError;

#[derive(Clone)]
struct Service {
    hits: u64,
}

impl Service {
    fn consume(self) -> u64 {
        self.hits
    }

    #[resilient(retries = 2)]
    async fn shared(self: Arc<Self>) -> Result<u64, TestError> {
        let owned: Arc<Self> = self;
        Ok(owned.hits)
    }

    #[resilient(retries = 2)]
    async fn owned(self) -> Result<u64, TestError> {
        Ok(self.consume())
    }

    #[resilient(retries = 2)]
    async fn owned_mut(mut self) -> Result<u64, TestError> {
        self.hits += 1;
        Ok(Self::consume(self))
    }
}

#[async_trait]
trait Consumer {
    async fn run(self: Arc<Self>) -> Result<u64, TestError>;
}

#[async_trait]
impl Consumer for Service {
    #[resilient(retries = 2)]
    async fn run(self: Arc<Self>) -> Result<u64, TestError> {
        let owned: Arc<Self> = self;
        Ok(owned.hits)
    }
}

async fn run() -> Result<u64, TestError> {
    let service = Service { hits: 0 };
    Ok(Arc::new(service.clone()).shared().await?
        + service.clone().owned().await?
        + service.clone().owned_mut().await?
        + Consumer::run(Arc::new(service)).await?)
}

fn main() {
    let _ = run;
}
