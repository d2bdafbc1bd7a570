use pool_sqlx::resilient;
use tests::memory::TestError;

struct Service;

impl Service {
    #[resilient(retries = 2)]
    async fn owned(self) -> Result<(), TestError> {
        let _consumed = self;
        Ok(())
    }
}

fn main() {}
