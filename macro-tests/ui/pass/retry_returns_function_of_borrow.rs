//! A `&mut` inside a function type in the return value borrows nothing from the
//! arguments: a retried function may return it.

use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 2)]
async fn appender(items: &mut Vec<u32>, value: u32) -> Result<Box<dyn Fn(&mut Vec<u32>) + Send>, TestError> {
    items.push(value);
    Ok(Box::new(move |target: &mut Vec<u32>| target.push(value)))
}

#[resilient(retries = 2)]
async fn pointer(items: &mut Vec<u32>) -> Result<fn(&mut Vec<u32>), TestError> {
    items.clear();
    Ok(Vec::clear)
}

fn main() {
    let _ = appender;
    let _ = pointer;
}
