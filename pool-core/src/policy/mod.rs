//! Resilience policies: retry with backoff and budget, circuit breaker, timeout, bulkhead,
//! and the named breaker registry.
//!
//! One documented order, outermost first: **Retry( CircuitBreaker( Bulkhead( Timeout(
//! call ))))**, composed per call site by [`Resilience`] (which `#[resilient]` expands to).
//! See [`resilience`](Resilience) for the retry rules and [`CircuitBreaker`] for the states.
//!
//! # Metrics
//!
//! Reported through the [`metrics`] facade. A call site registers its handles when its
//! policy is built (its first call), so install the recorder before the first call.
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | `pool_calls_total` | counter | `function`, `outcome` (`ok`, `error`, `rejected`) | calls ended (not attempts); `rejected`: stopped by a policy before running |
//! | `pool_retries_total` | counter | `function` | retries started |
//! | `pool_slow_calls_total` | counter | `function` | attempts slower than the slow-call threshold (site's, else process-wide, 1 s) |
//! | `pool_rejections_total` | counter | `function`, `reason` (`breaker_open`, `timeout`, `deadline_exceeded`, `bulkhead_full`, `budget_exhausted`, `breaker_not_declared`, `breaker_invalid`) | policy rejections; `timeout` counts each timed-out attempt, `budget_exhausted` each retry refused |
//! | `pool_breaker_state` | gauge | `breaker` | 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled |
//! | `pool_breaker_transitions_total` | counter | `breaker`, `from`, `to` | state changes (`closed`, `open`, `half_open`, `forced_open`, `disabled`) |
//!
//! # Tracing
//!
//! Targets `pool_core::retry` (info: an attempt failed and is retried; warn: budget
//! exhausted), `pool_core::breaker` (warn: opened; info: other transitions) and
//! `pool_core::slow` (warn: slow call, with `function`, `elapsed`, `threshold`).

mod backoff;
mod breaker;
mod budget;
mod bulkhead;
mod registry;
mod resilience;
mod timeout;
mod window;

pub use backoff::{Backoff, BackoffSchedule, Jitter};
pub use breaker::{
    BreakerConfig, BreakerEvent, BreakerPermit, BreakerSnapshot, BreakerState, CircuitBreaker,
};
pub use budget::RetryBudget;
pub use bulkhead::Bulkhead;
pub use registry::{
    BreakerRegistry, DeclaredBreaker, DefineError, InvalidDeclaration, UndeclaredUse, VerifyError,
    breakers,
};
pub use resilience::{
    Attempts, Resilience, ResilienceBuilder, default_slow_call_threshold,
    set_default_slow_call_threshold,
};
pub use window::SlidingWindow;
