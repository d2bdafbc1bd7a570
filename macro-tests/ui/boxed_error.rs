use pool_macros::resilient;

#[resilient(retries = 1)]
async fn find() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

fn main() {
    let _ = find();
}
