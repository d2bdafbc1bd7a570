use pool_macros::resilient;
use macro_tests::memory::TestError;

struct Service;

impl Service {
    #[resilient(retries = 2)]
    async fn owned(self) -> Result<(), TestError> {
        let _consumed = self;
        Ok(())
    }
}

fn main() {}
