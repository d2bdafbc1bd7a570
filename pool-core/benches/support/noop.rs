//! A manager whose connections cost nothing, so a bench times the pool and its policies
//! alone. Shared by the benches as a `#[path]` module; it uses only what pool-core has had
//! since its first release, so a bench built against an older commit still compiles.

use std::convert::Infallible;

use pool_core::{Classify, ErrorClass, Manager};

/// The error a no-op connection never returns.
#[derive(Debug, thiserror::Error)]
#[error("unreachable")]
pub(crate) struct NoError(Infallible);

impl Classify for NoError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// Opens a `u64` and never finds it broken.
pub(crate) struct Noop;

impl Manager for Noop {
    type Connection = u64;
    type Error = NoError;
    async fn connect(&self) -> Result<u64, NoError> {
        Ok(0)
    }
    async fn check(&self, _: &mut u64) -> Result<(), NoError> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}
