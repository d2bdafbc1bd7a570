//! Resilience policies: retry with backoff and budget, circuit breaker, timeout, bulkhead.
//!
//! STUB: the public surface is fixed (see the contract in `resilience.rs`); the
//! behaviour is filled in by the policies work. Today a call runs exactly once.

mod resilience;

pub use resilience::{Attempts, Backoff, DeclaredBreaker, Jitter, Resilience, ResilienceBuilder};
