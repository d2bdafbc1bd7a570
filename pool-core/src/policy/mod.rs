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
//! retry decision is made from its [`Classify`](crate::Classify) answers.
//!
//! The table below is the one in the README's "Classification" section (a test keeps the
//! two equal); its transaction rows are the engine's, in [`transaction`](crate::transaction).
//!
#![doc = include_str!("../../delivery.md")]
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
//! Reported through the [`metrics`](https://docs.rs/metrics) facade: `pool_calls_total`, `pool_retries_total`,
//! `pool_slow_calls_total`, `pool_rejections_total` (its `reason` is
//! [`Rejected::reason`](crate::Rejected::reason)), `pool_breaker_state` and
//! `pool_breaker_transitions_total`. Their kinds, labels and meanings are in one table,
//! with the pool's, in [`names`](crate::names). A call site registers its handles when
//! its policy is built (its first call), so install the recorder before the first call.
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
pub(crate) mod slow_call;
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
