use pool_macros::resilient;
use macro_tests::memory::TestError;

static DB: &str = "db";

#[resilient(retries = 1, breaker = DB)]
async fn find() -> Result<(), TestError> {
    Ok(())
}

fn main() {
    let _ = find();
}
