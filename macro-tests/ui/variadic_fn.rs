use pool_macros::resilient;

#[resilient(retries = 3)]
async fn varargs(first: u32, _: ...) -> Result<(), pool_core::Rejected> {
    let _ = first;
    Ok(())
}

fn main() {}
