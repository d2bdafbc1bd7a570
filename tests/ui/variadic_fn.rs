use pool_sqlx::resilient;

#[resilient(retries = 3)]
async fn varargs(first: u32, _: ...) -> Result<(), pool_sqlx::Rejected> {
    let _ = first;
    Ok(())
}

fn main() {}
