//! Resilience policies: retry with backoff and budget, circuit breaker, timeout, bulkhead,
//! and the named breaker registry.
//!
//! One documented order, outermost first: **Retry( CircuitBreaker( Bulkhead( Timeout(
//! call ))))**, composed per call site by [`Resilience`] (which `#[resilient]` expands to).
//! See [`CircuitBreaker`] for the breaker's states and [`BreakerConfig`] for its defaults
//! (resilience4j's, and where they differ for a database).
//!
//! # Retry rules
//!
//! Each attempt asks the breaker, then takes a bulkhead place, then runs under the per-attempt
//! timeout (bounded by the total deadline); its outcome is recorded in the breaker, and the
//! retry decision is made from its [`Classify`](crate::Classify) answers:
//!
//! | failure | retried? |
//! |---|---|
//! | `Permanent` | never (and not a breaker failure) |
//! | `Delivery::NotSent` (no connection could be had) | yes |
//! | `Delivery::Rejected` (the server answered: deadlock, serialization) | yes |
//! | `Delivery::Unknown` (lost mid-statement, timed out) | only with [`idempotent(true)`](ResilienceBuilder::idempotent) |
//! | a rejection by the breaker, the bulkhead or the deadline | never: the call ends at once |
//! | a timed-out attempt ([`Rejected::Timeout`](crate::Rejected::Timeout), ambiguous) | only with `idempotent(true)` |
//!
//! Retrying an ambiguous failure can apply a write twice, so `idempotent` is `false` by
//! default: declare reads and idempotent writes (upserts, writes keyed by a client id)
//! idempotent to have their ambiguous failures retried.
//!
//! A retry also needs the user predicate (if any) to agree, attempts left, time left before
//! the deadline for the backoff delay, and a token from the retry budget (if any). When one
//! is missing, the last failure is returned as it is (an exhausted budget returns the
//! failure, not [`Rejected::BudgetExhausted`](crate::Rejected::BudgetExhausted), as tower
//! does; it is counted as `pool_rejections_total{reason="budget_exhausted"}` and logged).
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
mod wrap;

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
pub use wrap::Policy;
