use pool_core::{Classify, ErrorClass};
use pool_macros::resilient;

/// Classified, but a policy rejection (breaker open, timeout) cannot be expressed in it.
#[derive(Debug)]
struct AppError;

impl Classify for AppError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

#[resilient(retries = 3)]
async fn find() -> Result<(), AppError> {
    Ok(())
}

fn main() {}
