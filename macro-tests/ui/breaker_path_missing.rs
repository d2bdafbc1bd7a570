use pool_core::DeclaredBreaker;
use pool_macros::resilient;
use macro_tests::memory::TestError;

static DB: DeclaredBreaker = DeclaredBreaker::new("db");

#[resilient(breaker = DBB)]
async fn typo_in_path() -> Result<(), TestError> {
    Ok(())
}

#[resilient(breaker = breakers::DB)]
async fn missing_module() -> Result<(), TestError> {
    Ok(())
}

fn main() {
    let _ = &DB;
}
