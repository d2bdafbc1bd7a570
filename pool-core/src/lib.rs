//! A generic async connection pool and the resilience policies around it.
//!
//! - [`Pool`] hands out connections made by a [`Manager`], within a size limit, with
//!   acquire/connect/validation timeouts, idle and lifetime limits, leak detection and
//!   graceful close. Its checkout path takes no lock across an `.await` and is
//!   cancellation-safe.
//! - [`Resilience`] composes retry with backoff and budget, a circuit breaker, a
//!   bulkhead and a per-attempt timeout; `#[resilient]` (in `pool-macros`) expands to it.
//! - Every decision reads [`Classify`]: what a failure is, never what its message says.
//! - [`transaction`] is the one transaction engine (begin, body, commit or rollback, and
//!   what each failure means for a retry), run by `#[pooled(transaction)]` and by
//!   `pool_sqlx::transaction` alike.
//! - Every metric either reports is named in [`names`], with its labels and meaning; every
//!   `tracing` span, in [`spans`], with its level and fields.
//!
//! Database bindings live elsewhere (`pool-sqlx`); this crate names no database.

mod binding;
mod classify;
mod error;
mod manager;
pub mod names;
pub mod policy;
mod pool;
mod private;
mod read;
mod rejected;
mod route;
mod shutdown;
mod sizing;
pub mod spans;
pub mod transaction;

pub use binding::PooledConnection;
pub use classify::{Classify, Delivery, ErrorClass};
pub use error::{ConfigError, PoolError, TimeoutPhase};
pub use manager::{Manager, TransactionManager};
pub use names::{ACQUIRE_SECONDS_BUCKETS, MetricNames};
pub use policy::{
    Attempts, Backoff, BackoffSchedule, BreakerConfig, BreakerEvent, BreakerPermit,
    BreakerRegistry, BreakerSnapshot, BreakerState, Bulkhead, CircuitBreaker, DeclaredBreaker,
    DefineError, Jitter, Policy, Resilience, ResilienceBuilder, RetryBudget, SlidingWindow,
    VerifyError, breakers, default_slow_call_threshold, set_default_slow_call_threshold,
};
pub use pool::{
    AlreadyInitialized, AsyncHook, CloseHook, CloseReport, GlobalPool, HookFuture,
    LatencyQuantiles, MAX_POOL_SIZE, Metrics, Pool, PoolBuilder, Pooled, ReleaseHook, StartError,
    Status, Validation, defaults, rounded_millis,
};
pub use read::ReadSource;
pub use rejected::{Rejected, ResilientError};
pub use shutdown::{ClosedPool, InFlight, Shutdown, ShutdownReport, Trigger};
pub use sizing::{Sizing, size_for_instances};
pub use spans::DatabaseIdentity;

#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
