use pool_sqlx::resilient;
use tests::memory::TestError;

static DB: &str = "db";

#[resilient(retries = 1, breaker = DB)]
async fn find() -> Result<(), TestError> {
    Ok(())
}

fn main() {
    let _ = find();
}
