//! Methods of an `#[async_trait]` impl: the impl-level attribute expands first, and
//! `#[resilient]` wraps the boxed `async move` block it leaves.

use pool_macros::resilient;
use macro_tests::memory::TestError;

#[async_trait::async_trait]
trait Store {
    async fn get(&self, key: u64) -> Result<u64, TestError>;
    async fn put(&mut self, key: u64, value: String) -> Result<(), TestError>;
}

struct Memory {
    values: Vec<(u64, String)>,
}

#[async_trait::async_trait]
impl Store for Memory {
    #[resilient(retries = 3, timeout = "1s")]
    async fn get(&self, key: u64) -> Result<u64, TestError> {
        Ok(self.values.iter().filter(|(k, _)| *k == key).count() as u64)
    }

    #[resilient(retries = 3, breaker = "store")]
    async fn put(&mut self, key: u64, value: String) -> Result<(), TestError> {
        self.values.push((key, value));
        Ok(())
    }
}

fn is_send<T: Send>(_: T) {}

fn main() {
    let mut memory = Memory { values: Vec::new() };
    is_send(memory.get(1));
    is_send(memory.put(1, String::new()));
}
