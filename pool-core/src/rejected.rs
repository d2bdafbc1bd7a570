//! `Rejected`: a call the policies refused or cut short, before or instead of the work.

use std::{sync::Arc, time::Duration};

use crate::{Classify, ConfigError, Delivery, ErrorClass};

/// A call stopped by a policy rather than failed by the database.
///
/// User error types take it through `From<Rejected>`, which `#[resilient]` requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// The circuit breaker is open (or half-open with every probe taken).
    #[error("circuit breaker `{name}` is open")]
    BreakerOpen {
        /// The breaker's name.
        name: Arc<str>,
    },
    /// One attempt ran longer than its per-attempt timeout and was dropped.
    #[error("attempt timed out after {after:?}")]
    Timeout {
        /// The per-attempt timeout.
        after: Duration,
    },
    /// The total deadline across all attempts passed.
    #[error("deadline of {after:?} exceeded")]
    DeadlineExceeded {
        /// The total deadline.
        after: Duration,
    },
    /// The bulkhead's concurrency limit was reached and no place freed in time.
    #[error("bulkhead `{name}` is full ({max_concurrent} calls in flight)")]
    BulkheadFull {
        /// The bulkhead's name (the call site's label).
        name: Arc<str>,
        /// Its limit.
        max_concurrent: usize,
    },
    /// The retry budget is spent: the call is not retried so a failing database
    /// does not see a retry storm.
    #[error("retry budget exhausted")]
    BudgetExhausted,
    /// A breaker was referenced by name but never declared.
    #[error("circuit breaker `{name}` is used but was never declared")]
    BreakerNotDeclared {
        /// The undeclared name.
        name: Arc<str>,
    },
    /// A declared breaker could not be defined: its configuration is invalid or conflicts
    /// with another declaration of the same name.
    #[error("circuit breaker `{name}` is misconfigured: {error}")]
    BreakerInvalid {
        /// The breaker's name.
        name: Arc<str>,
        /// What is wrong.
        error: ConfigError,
    },
}

impl Rejected {
    /// The label used in metrics (`reason` of `pool_rejections_total`) and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejected::BreakerOpen { .. } => "breaker_open",
            Rejected::Timeout { .. } => "timeout",
            Rejected::DeadlineExceeded { .. } => "deadline_exceeded",
            Rejected::BulkheadFull { .. } => "bulkhead_full",
            Rejected::BudgetExhausted => "budget_exhausted",
            Rejected::BreakerNotDeclared { .. } => "breaker_not_declared",
            Rejected::BreakerInvalid { .. } => "breaker_invalid",
        }
    }
}

impl Classify for Rejected {
    fn class(&self) -> ErrorClass {
        match self {
            Rejected::Timeout { .. } | Rejected::DeadlineExceeded { .. } => ErrorClass::Timeout,
            Rejected::BreakerOpen { .. }
            | Rejected::BulkheadFull { .. }
            | Rejected::BudgetExhausted => ErrorClass::Transient,
            Rejected::BreakerNotDeclared { .. } | Rejected::BreakerInvalid { .. } => {
                ErrorClass::Permanent
            }
        }
    }

    fn delivery(&self) -> Delivery {
        match self {
            // The attempt was dropped mid-flight: the server may have applied it.
            Rejected::Timeout { .. } | Rejected::DeadlineExceeded { .. } => Delivery::Unknown,
            _ => Delivery::NotSent,
        }
    }
}

/// An error type the resilience policies can run under: classified (so they know what to
/// retry) and able to carry a [`Rejected`] (so a call the policies stop can end in it).
///
/// Implemented for every type that is both; it exists to name the requirement in one
/// place and to say what is missing when a `#[resilient]` function's error type is not.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of a `#[resilient]` function",
    label = "needs `Classify` and `From<Rejected>`",
    note = "a call stopped by a policy (open breaker, timeout, full bulkhead, deadline) ends in a `Rejected`, converted into the function's error type; `Classify` says which failures are retried",
    note = "`pool_sqlx::Error` implements both: return it, or wrap it in your error type (`#[from]`)"
)]
pub trait ResilientError: Classify + From<Rejected> {}

impl<E: Classify + From<Rejected>> ResilientError for E {}
