use pool_macros::resilient;

#[resilient(retries = 3)]
async fn number() -> u32 {
    1
}

#[resilient(retries = 3)]
async fn nothing() {}

#[resilient(retries = 3)]
async fn option() -> Option<u32> {
    None
}

fn main() {}
