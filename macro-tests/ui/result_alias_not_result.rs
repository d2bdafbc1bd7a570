use pool_macros::resilient;

type Maybe<T> = Option<T>;

#[resilient(retries = 1)]
async fn resilient_option() -> Maybe<u32> {
    Some(1)
}

fn main() {}
