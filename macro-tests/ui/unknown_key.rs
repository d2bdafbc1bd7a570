use pool_macros::{pooled, resilient};
use macro_tests::memory::{MemoryConnection, TestError};

#[resilient(retry = 3)]
async fn typo() -> Result<(), TestError> {
    Ok(())
}

#[resilient(timout = "1s")]
async fn another_typo() -> Result<(), TestError> {
    Ok(())
}

#[resilient(colour = "blue")]
async fn nonsense() -> Result<(), TestError> {
    Ok(())
}

#[pooled(transation)]
async fn pooled_typo(conn: &mut MemoryConnection) -> Result<(), TestError> {
    let _ = conn;
    Ok(())
}

fn main() {}
