use pool_macros::resilient;
use macro_tests::memory::TestError;

struct Request {
    id: u64,
}

#[resilient(retries = 3)]
async fn send(id: u64, request: Request) -> Result<u64, TestError> {
    Ok(id + request.id)
}

fn main() {}
